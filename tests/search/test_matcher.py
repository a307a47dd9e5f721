"""The topic matcher: the shipped ai-race topic, and the rule mechanics on small topics."""

from __future__ import annotations

import pytest

from newswatch.config import TopicConfig, default_config_text, parse_config
from search.matcher import TopicMatch, TopicMatcher


@pytest.fixture(scope="module")
def ai_race() -> TopicMatcher:
    config = parse_config(default_config_text(), "<default config>")
    topics = [t for t in config.topics if t.name == "ai-race"]
    assert len(topics) == 1
    return TopicMatcher(topics)


def race(matcher: TopicMatcher, title: str, body: str, language: str) -> TopicMatch:
    (result,) = matcher.match(title, body, language)
    assert result.topic == "ai-race"
    return result


def topic(**rule) -> TopicMatcher:
    return TopicMatcher([TopicConfig(name="t", **rule)])


def one(matcher: TopicMatcher, title: str, body: str, language: str = "en") -> TopicMatch:
    (result,) = matcher.match(title, body, language)
    return result


# --- the shipped topic, five languages ---------------------------------------------------

SHIPPED_CASES = [
    pytest.param(
        "Nvidia and TSMC",
        "Nvidia said TSMC would ship AI chips via Kiel; a Thai fan said GPUs were scarce.",
        "en",
        True,
        {"Nvidia": 3, "TSMC": 3, "AI chips": 1, "AI": 1, "GPUs": 1},
        id="en-match",
    ),
    pytest.param(
        "La course à l'IA s'accélère",
        "Les centres de données d’OpenAI consomment des puces Nvidia. "
        "L’IA générale reste un objectif.",
        "fr",
        True,
        {
            "course à l'IA": 2,
            "IA": 3,
            "centres de données": 1,
            "puces": 1,
            "Nvidia": 1,
            "IA générale": 1,
        },
        id="fr-match",
    ),
    pytest.param(
        "KI-Wettlauf: Nvidia baut Rechenzentren",
        "Im KI-Wettlauf investiert Nvidia in neue Rechenzentren und KI-Chips, "
        "sagte ein Sprecher in Kiel.",
        "de",
        True,
        {"KI-Wettlauf": 3, "KI": 4, "Nvidia": 3, "Rechenzentren": 3, "KI-Chips": 1},
        id="de-match",
    ),
    pytest.param(
        "La carrera de la IA llega a Europa",
        "Nvidia abrirá dos centros de datos en España para la carrera de la IA, mientras "
        "la inteligencia artificial general sigue lejos.",
        "es",
        True,
        {
            "carrera de la IA": 3,
            "IA": 3,
            "Nvidia": 1,
            "centros de datos": 1,
            "inteligencia artificial general": 1,
            "inteligencia artificial": 1,
        },
        id="es-match",
    ),
    pytest.param(
        "La corsa all'IA accelera",
        "Nvidia vende chip per l'IA ai clienti europei e la guerra dei talenti continua "
        "nella corsa all’IA.",
        "it",
        True,
        {"corsa all'IA": 3, "IA": 4, "Nvidia": 1, "chip per l'IA": 1, "guerra dei talenti": 1},
        id="it-match",
    ),
    # Case-sensitive acronyms: "ai", "Thai", "said", "via", "Kiel" are not AI / KI.
    pytest.param(
        "Nvidia and TSMC",
        "Nvidia said TSMC would ship the chips via Kiel; a Thai ai fan said GPUs were scarce.",
        "en",
        False,
        {"Nvidia": 3, "TSMC": 3, "GPUs": 1},
        id="en-no-acronym",
    ),
    pytest.param(
        "Nvidia, TSMC",
        "Nvidia verkauft Chips an Kunden in Kiel und KIEL, sagte TSMC via Videolink.",
        "de",
        False,
        {"Nvidia": 3, "TSMC": 3},
        id="de-kiel-is-not-ki",
    ),
    pytest.param(
        "Nvidia e TSMC",
        "Nvidia vende ai clienti di Taiwan e TSMC ai partner europei, ha detto via email.",
        "it",
        False,
        {"Nvidia": 3, "TSMC": 3},
        id="it-ai-preposition",
    ),
    pytest.param(
        "Nvidia y TSMC",
        "Nvidia y TSMC venden más chips; la ia en minúsculas no es un acrónimo.",
        "es",
        False,
        {"Nvidia": 3, "TSMC": 3},
        id="es-lowercase-ia",
    ),
]


@pytest.mark.parametrize(("title", "body", "language", "matched", "terms"), SHIPPED_CASES)
def test_shipped_topic(
    ai_race: TopicMatcher,
    title: str,
    body: str,
    language: str,
    matched: bool,
    terms: dict[str, int],
) -> None:
    result = race(ai_race, title, body, language)
    assert result.matched is matched
    assert {label: result.terms.get(label) for label in terms} == terms
    if not matched:
        assert result.reason == "no term of 'all' group 1"


@pytest.mark.parametrize(
    ("body", "label", "count"),
    [
        ("l'IA", "IA", 1),
        ("l’IA", "IA", 1),
        ("dell'IA", "IA", 1),
        ("les propos d’Altman", "Altman", 1),
        ("les propos d'Altman", "Altman", 1),
        ("Nvidia's chips", "Nvidia", 1),
        ("Nvidia’s chips", "Nvidia", 1),
        ("Altman’s plan", "Altman", 1),
    ],
)
def test_shipped_topic_reads_elisions_and_possessives(
    ai_race: TopicMatcher, body: str, label: str, count: int
) -> None:
    assert race(ai_race, "", body, "fr").terms == {label: count}


def test_a_term_listed_in_any_and_all_is_counted_once_per_mention(
    ai_race: TopicMatcher,
) -> None:
    # OpenAI, Anthropic, DeepMind and superintelligen* are both `any` and `all` terms of
    # ai-race; their reported count is still how often they occur (title counts double).
    result = race(
        ai_race,
        "OpenAI and Anthropic",
        "d’OpenAI, OpenAI's and OpenAI’s plans; DeepMind; superintelligence.",
        "en",
    )
    assert result.matched is True
    assert result.terms == {
        "OpenAI": 5,
        "Anthropic": 2,
        "DeepMind": 1,
        "superintelligen*": 1,
    }


@pytest.mark.parametrize(
    ("body", "terms"),
    [
        ("Sam\nAltman met the AI lab.", {"Sam Altman": 1, "AI": 1}),
        ("Sam    Altman met the AI lab.", {"Sam Altman": 1, "AI": 1}),
        ("New data\n   centres for AI.", {"data centres": 1, "AI": 1}),
        ("Le marché de\r\nl’intelligence\n  artificielle.", {"intelligence artificielle": 1}),
        ("Die künstliche\n\nIntelligenz und die KI.", {"künstliche Intelligenz": 1, "KI": 1}),
        # Hyphenated and spaced spellings of superintelligence.
        ("The super-intelligence race and AI.", {"superintelligen*": 1, "AI": 1}),
        ("A super intelligence, says the AI lab.", {"superintelligen*": 1, "AI": 1}),
        ("Super-Intelligenz und KI.", {"superintelligen*": 1, "KI": 1}),
    ],
)
def test_phrases_across_line_breaks_and_hyphens(
    ai_race: TopicMatcher, body: str, terms: dict[str, int]
) -> None:
    assert race(ai_race, "", body, "en").terms == terms


def test_title_counts_double(ai_race: TopicMatcher) -> None:
    in_title = race(ai_race, "Nvidia and AI", "TSMC.", "en")
    in_body = race(ai_race, "", "Nvidia and AI. TSMC.", "en")
    assert in_title.terms == {"Nvidia": 2, "AI": 2, "TSMC": 1}
    assert in_title.matched is True  # 2 + 1 mentions reach min_mentions = 3
    assert in_body.terms == {"Nvidia": 1, "AI": 1, "TSMC": 1}
    assert in_body.matched is False
    assert in_body.reason == "2 mention(s) of 'any' terms, needs 3"


@pytest.mark.parametrize("name", ["Meta", "Claude", "Mistral", "Apple", "Gemini"])
def test_names_that_need_context(ai_race: TopicMatcher, name: str) -> None:
    title = f"{name} unveils a new model"
    without = race(ai_race, title, f"{name} said the launch went well.", "en")
    assert name not in without.terms
    assert without.matched is False
    with_context = race(ai_race, title, f"{name} said its AI chatbot launched today.", "en")
    assert with_context.terms == {name: 3, "AI": 1}
    assert with_context.context == {"AI": 1, "chatbot": 1}
    assert with_context.matched is True


def test_a_lowercase_common_word_is_not_the_name(ai_race: TopicMatcher) -> None:
    result = race(ai_race, "", "The mistral, an apple and meta-analysis of AI and a chatbot.", "en")
    assert result.terms == {"AI": 1}


def test_mistral_ai_is_counted_once_as_the_longest_term(ai_race: TopicMatcher) -> None:
    result = race(ai_race, "", "Mistral AI raised money. Mistral said AI", "en")
    assert result.terms == {"Mistral AI": 1, "Mistral": 1, "AI": 2}


# --- false-positive traps: none of these is about the AI race -----------------------------

TRAPS = [
    pytest.param(
        "Apple crumble for a cold evening",
        "Peel six Apple Bramley apples, slice them and toss with sugar and cinnamon. Rub "
        "butter into flour for the crumble, scatter it over the apples and bake for forty "
        "minutes. Serve the Apple crumble warm with custard.",
        "en",
        id="apple-crumble",
    ),
    pytest.param(
        "Le mistral souffle sur la Provence",
        "Le Mistral a soufflé à plus de 100 km/h sur la Provence. Au marché aux puces "
        "d'Avignon, les exposants ont rangé leurs stands ; les puces et les brocanteurs "
        "reviendront dimanche. Le mistral devrait faiblir mardi, selon Météo-France.",
        "fr",
        id="mistral-wind",
    ),
    pytest.param(
        "Kieler Woche: Regatta vor Kiel",
        "Bei der Kieler Woche segelten am Samstag mehr als 300 Boote vor Kiel. Die Regatta "
        "in der Kieler Förde war ein Erfolg, sagte der Veranstalter. KIEL feiert bis Sonntag.",
        "de",
        id="kiel-regatta",
    ),
    pytest.param(
        "A Thai restaurant opens on Main Street",
        "The new Thai restaurant said it would serve pad thai via a small window. The owner "
        "said the recipes came from her grandmother in Chiang Mai. Thai food fans said the "
        "wait was worth it.",
        "en",
        id="thai-restaurant",
    ),
    pytest.param(
        "St Mary's hospital buys scheduling software",
        "St Mary's hospital has bought new scheduling software to manage operating theatres "
        "and outpatient clinics. The vendor says the system uses AI to predict missed "
        "appointments, but nurses will still build the rosters on Apple iPads. The software "
        "will run in the hospital's own data centre and go live in March, the trust said.",
        "en",
        id="hospital-software",
    ),
    pytest.param(
        "Gemini: Claude Moreau's new paintings",
        "The gallery opens Gemini, a show of twenty paintings by Claude Moreau. Claude worked "
        "on the Gemini series for three years, painting twin figures in oil. Gemini runs "
        "until June.",
        "en",
        id="gemini-art-show",
    ),
    pytest.param(
        "Gemini: Claude Moreau's new paintings",
        "The gallery opens Gemini, a show of twenty paintings by Claude Moreau. Claude worked "
        "on the Gemini series for three years, painting twin figures in oil; no AI was "
        "involved, he insists. Gemini runs until June.",
        "en",
        id="gemini-art-show-mentioning-ai",
    ),
]


@pytest.mark.parametrize(("title", "body", "language"), TRAPS)
def test_false_positive_traps_do_not_match(
    ai_race: TopicMatcher, title: str, body: str, language: str
) -> None:
    result = race(ai_race, title, body, language)
    assert result.matched is False, result.terms


def test_trap_details(ai_race: TopicMatcher) -> None:
    # The flea market's "puces" are counted, but nothing says the text is about AI.
    mistral = race(ai_race, *[p.values for p in TRAPS if p.id == "mistral-wind"][0])
    assert mistral.terms == {"puces": 2}
    assert mistral.reason == "no term of 'all' group 1"
    # The hospital mentions AI once: too little context for "Apple" to count (it needs two
    # context mentions), and one data centre is not enough mentions.
    hospital = race(ai_race, *[p.values for p in TRAPS if p.id == "hospital-software"][0])
    assert hospital.terms == {"AI": 1, "data centre": 1}
    assert hospital.context == {"AI": 1}
    assert hospital.reason == "1 mention(s) of 'any' terms, needs 3"


# --- rule mechanics on small topics ------------------------------------------------------

ROCKETS = {
    "any": ["rocket"],
    "none": ["toy rocket", "fireworks"],
    "all": [["launch", "liftoff"], ["NASA", {"term": "ESA", "case_sensitive": True}]],
}


@pytest.mark.parametrize(
    ("body", "matched", "terms", "vetoes", "reason"),
    [
        ("rocket launch by NASA", True, {"rocket": 1, "launch": 1, "NASA": 1}, {}, ""),
        ("rocket liftoff by ESA", True, {"rocket": 1, "liftoff": 1, "ESA": 1}, {}, ""),
        (
            "rocket launch by esa",
            False,
            {"rocket": 1, "launch": 1},
            {},
            "no term of 'all' group 2",
        ),
        ("rocket NASA", False, {"rocket": 1, "NASA": 1}, {}, "no term of 'all' group 1"),
        (
            "launch NASA",
            False,
            {"launch": 1, "NASA": 1},
            {},
            "0 mention(s) of 'any' terms, needs 1",
        ),
        (
            "rocket liftoff NASA fireworks",
            False,
            {"rocket": 1, "liftoff": 1, "NASA": 1},
            {"fireworks": 1},
            "vetoed by fireworks",
        ),
        (
            "fireworks and a toy rocket: launch at NASA; more fireworks",
            False,
            {"rocket": 1, "launch": 1, "NASA": 1},
            {"fireworks": 2, "toy rocket": 1},
            "vetoed by fireworks, toy rocket",
        ),
    ],
)
def test_none_vetoes_and_all_groups(
    body: str, matched: bool, terms: dict, vetoes: dict, reason: str
) -> None:
    result = one(topic(**ROCKETS), "", body)
    assert (result.matched, result.terms, result.vetoes, result.reason) == (
        matched,
        terms,
        vetoes,
        reason,
    )


def test_a_veto_in_the_title_counts_double() -> None:
    result = one(topic(**ROCKETS), "Fireworks", "rocket launch by NASA")
    assert result.vetoes == {"fireworks": 2}
    assert result.matched is False


def test_min_mentions_and_title_weight() -> None:
    matcher = topic(any=["chip", "wafer"], min_mentions=3)
    assert one(matcher, "", "chip and wafer").reason == "2 mention(s) of 'any' terms, needs 3"
    assert one(matcher, "", "chip, wafer, chip").matched is True
    result = one(matcher, "Chip", "wafer")
    assert (result.matched, result.terms, result.score) == (True, {"chip": 2, "wafer": 1}, 3.0)


@pytest.mark.parametrize(
    ("spec", "body", "count"),
    [
        ("chip", "Chip CHIP chip", 3),
        ("chip", "Chips", 0),  # whole words only
        ({"term": "chip", "stem": True}, "Chips and chipping", 2),
        ({"term": "AI", "case_sensitive": True}, "AI ai Ai AIs", 1),
        ("robot*", "robots, Robotics and a robot", 3),
        ({"term": "Gen", "prefix": True, "case_sensitive": True}, "Generation generation", 1),
        ("données", "Donnees et DONNÉES", 2),  # accents and case folded
        ("data centre", "data centre, data-centre, data\ncentre, datacentre", 3),
        ({"term": "GPU", "variants": ["graphics processor"]}, "GPU, graphics processor", 2),
    ],
)
def test_term_options(spec: object, body: str, count: int) -> None:
    result = one(topic(any=[spec]), "", body)
    label = next(iter(result.terms), None)
    assert (result.terms[label] if label else 0) == count


@pytest.mark.parametrize(
    ("body", "count"),
    [("ex", 1), ("export", 1), ("exports and exchanges", 2), ("index", 0)],
)
def test_a_short_prefix_matches_longer_words(body: str, count: int) -> None:
    # A two-letter prefix must match words starting with it, as a long prefix does.
    result = one(topic(any=["ex*"]), "", body)
    assert result.terms.get("ex*", 0) == count


def test_needs_context_mechanics() -> None:
    matcher = topic(
        any=[{"term": "Jaguar", "case_sensitive": True, "needs_context": True}, "sedan"],
        context=["car", "engine"],
    )
    alone = one(matcher, "", "Jaguar sedan")
    assert (alone.terms, alone.context, alone.matched) == ({"sedan": 1}, {}, True)
    with_context = one(matcher, "", "Jaguar engine and car")
    assert (with_context.terms, with_context.context) == ({"Jaguar": 1}, {"car": 1, "engine": 1})
    animal = one(matcher, "", "A jaguar hunts")
    assert (animal.terms, animal.matched) == ({}, False)


def test_longest_term_wins_within_a_rule_part() -> None:
    matcher = topic(any=["data", "data centre", "data centre power"])
    assert one(matcher, "", "data centre power and data centre and data").terms == {
        "data centre power": 1,
        "data centre": 1,
        "data": 1,
    }


def test_topics_are_matched_independently_in_one_pass() -> None:
    matcher = TopicMatcher(
        [
            TopicConfig(name="chips", any=["chip"]),
            TopicConfig(name="rockets", any=["rocket"], none=["chip"]),
        ]
    )
    results = matcher.match("", "a chip and a rocket", "en")
    assert [(r.topic, r.matched, r.terms, r.vetoes) for r in results] == [
        ("chips", True, {"chip": 1}, {}),
        ("rockets", False, {"rocket": 1}, {"chip": 1}),
    ]
