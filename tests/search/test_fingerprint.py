"""Fingerprints: the exact body hash and the MinHash bands for near-duplicates."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from search import fingerprint
from search.fingerprint import (
    NEAR_DUPLICATE_JACCARD,
    bands,
    body_hash,
    decode,
    encode,
    jaccard,
    normalized_words,
    shingles,
    signature,
    similarity,
)

# A wire story of about 300 words, written for these tests.
STORY = "\n\n".join(
    [
        (
            "The European Commission on Tuesday approved a plan to build five large computing "
            "centres for artificial intelligence research, committing twenty billion euros over "
            "the next six years to a programme that officials described as the continent's answer"
            " to American and Chinese investment."
        ),
        (
            "The centres will be spread across Finland, Germany, Italy, Spain and France, and "
            "each will house tens of thousands of graphics processors bought through a joint "
            "tender. Universities, start-ups and small manufacturers will be able to apply for "
            "computing time, with priority given to projects that publish their results and "
            "release their models under open licences."
        ),
        (
            "Officials said the money would come partly from the existing research budget and "
            "partly from member states, which have agreed to match every euro spent by Brussels. "
            "The European Investment Bank is expected to lend a further five billion euros to "
            "companies that build data storage and power connections around the sites."
        ),
        (
            "Critics in the parliament argued that the plan arrives late and that the sums remain"
            " small compared with the spending of the largest American technology groups, which "
            "each plan to invest more than fifty billion dollars this year alone. Others warned "
            "that electricity prices in Europe could make the centres expensive to run."
        ),
        (
            "The commissioner responsible for the digital economy rejected those concerns at a "
            "press conference in Brussels, saying that Europe could not afford to depend on "
            "foreign suppliers for a technology that will shape industry, defence and public "
            "services for decades. She added that the first centre, in Finland, should open "
            "before the end of next year."
        ),
        (
            "Industry groups welcomed the announcement but asked for faster procedures. Several "
            "founders said they had moved their training work to the United States because "
            "European computing capacity was booked months in advance, and that the new centres "
            "would only help if access was simple and cheap."
        ),
    ]
)

EXTRA = "\n\n".join(
    [
        (
            "A spokesperson for the Finnish government said the site near Kajaani had been chosen"
            " because of its cool climate, its stable grid and the hydroelectric plants nearby, "
            "which should keep running costs below the European average."
        ),
    ]
)

OTHER = "\n\n".join(
    [
        (
            "Chinese developers are racing to train large language models on domestic chips after"
            " Washington tightened its export rules again this autumn, according to engineers at "
            "three laboratories in Beijing and Shenzhen who spoke on condition of anonymity."
        ),
        (
            "The engineers described long nights spent rewriting software so that it runs on "
            "processors designed by Huawei and a handful of smaller firms, whose hardware is "
            "slower than the American parts it replaces but can be bought without a licence. One "
            "team said a training run that once took two weeks now takes nearly a month."
        ),
        (
            "Investors have responded by pouring money into local chip designers. Shares in "
            "several of them doubled over the summer, and provincial governments have offered "
            "cheap land and electricity to companies willing to open factories in their regions. "
            "Analysts in Hong Kong expect the trend to continue as long as the restrictions stay "
            "in place."
        ),
        (
            "Not everyone is convinced. A professor at a university in Shanghai said the gap with"
            " the leading American laboratories was still widening, because the best researchers "
            "prefer to work where the fastest hardware is available. He estimated that Chinese "
            "models trail their rivals by about a year."
        ),
        (
            "Government officials insist the country will close the gap. A ministry statement "
            "published on Friday promised subsidies for research institutes that share their "
            "computing clusters and for start-ups that release their systems to the public, along"
            " with new rules to speed up approval of consumer chatbots."
        ),
    ]
)


HEADLINE = "Brussels bets twenty billion euros on AI computing centres"

# The same story with another headline and one extra paragraph: a near-duplicate.
NEAR_COPY = HEADLINE + "\n\n" + STORY.replace("next year.", "next year.\n\n" + EXTRA)

MASK = (1 << 64) - 1


def test_texts_are_the_sizes_the_tests_assume() -> None:
    assert 290 <= len(STORY.split()) <= 320
    assert 220 <= len(OTHER.split()) <= 320


# --- body hash ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        "The EUROPEAN Commission approved   a plan\n\nto build centres.",
        "the european commission approved a plan to build centres",
        "Thé Européan Commissión approvéd a plan to build céntres",
        "  The European Commission approved a plan to build centres!  ",
        "The European Commission approved a plan — to build centres…",
    ],
)
def test_body_hash_ignores_case_accents_spacing_and_punctuation(variant: str) -> None:
    original = "The European Commission approved a plan to build centres."
    assert body_hash(variant) == body_hash(original)


def test_body_hash_is_the_sha1_of_the_folded_words() -> None:
    expected = hashlib.sha1(b"ia generale arrive").hexdigest()
    assert body_hash("L’IA Générale arrive.") == expected


@pytest.mark.parametrize(
    "changed",
    [
        "The European Commission rejected a plan to build centres.",
        "The European Commission approved a plan to build five centres.",
        "The European Commission approved a plan to build.",
        "European The Commission approved a plan to build centres.",
    ],
)
def test_body_hash_changes_with_the_words(changed: str) -> None:
    original = "The European Commission approved a plan to build centres."
    assert body_hash(changed) != body_hash(original)


def test_body_hash_of_the_near_copy_differs() -> None:
    assert body_hash(NEAR_COPY) != body_hash(STORY)
    assert re.fullmatch(r"[0-9a-f]{40}", body_hash(STORY))


# --- shingles and Jaccard ----------------------------------------------------------------


def test_shingles_are_overlapping_word_triples() -> None:
    words = normalized_words(STORY)
    assert len(shingles(STORY)) == len({tuple(words[i : i + 3]) for i in range(len(words) - 2)})
    assert shingles("Chips, chips; CHIPS!") == shingles("chips chips chips")
    assert len(shingles("chips chips chips")) == 1
    assert len(shingles("two words")) == 1  # padded to one shingle
    assert shingles("") == shingles("   ") and len(shingles("")) == 1


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (set(), set(), 1.0),
        ({1, 2}, set(), 0.0),
        ({1, 2, 3}, {2, 3, 4}, 0.5),
        ({1, 2, 3, 4}, {1, 2, 3, 4}, 1.0),
    ],
)
def test_jaccard(a: set[int], b: set[int], expected: float) -> None:
    assert jaccard(a, b) == expected


# --- near-duplicates ---------------------------------------------------------------------


def test_near_duplicate_shares_a_band_and_is_confirmed_by_its_signature() -> None:
    a, b = signature(STORY), signature(NEAR_COPY)
    assert set(bands(a)) & set(bands(b))
    assert jaccard(shingles(STORY), shingles(NEAR_COPY)) >= NEAR_DUPLICATE_JACCARD
    assert similarity(a, b) >= NEAR_DUPLICATE_JACCARD
    assert NEAR_DUPLICATE_JACCARD == 0.5


def test_different_articles_on_the_same_subject_share_no_band() -> None:
    a, c = signature(STORY), signature(OTHER)
    assert set(bands(a)).isdisjoint(bands(c))
    assert set(bands(signature(NEAR_COPY))).isdisjoint(bands(c))
    assert jaccard(shingles(STORY), shingles(OTHER)) < 0.1
    assert similarity(a, c) < 0.1


def test_signature_estimates_jaccard() -> None:
    exact = jaccard(shingles(STORY), shingles(NEAR_COPY))
    assert abs(similarity(signature(STORY), signature(NEAR_COPY)) - exact) < 0.15
    assert similarity(signature(STORY), signature(STORY.upper())) == 1.0


def test_signature_survives_its_text_form() -> None:
    sig = signature(STORY)
    text = encode(sig)
    assert re.fullmatch(r"[0-9a-f]{1024}", text)
    assert (decode(text) == sig).all()


# --- bands -------------------------------------------------------------------------------


def test_bands_are_sixteen_keys_of_the_form_band_hex16() -> None:
    keys = bands(signature(STORY))
    assert len(keys) == 16
    assert [k.split(":")[0] for k in keys] == [str(i) for i in range(16)]
    assert all(re.fullmatch(r"[0-9]+:[0-9a-f]{16}", k) for k in keys)


def test_bands_are_deterministic() -> None:
    assert bands(signature(STORY)) == bands(signature(STORY))
    assert bands(signature(STORY)) == bands(signature(STORY.upper()))


def _splitmix(x: int) -> int:
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def test_bands_match_a_pure_python_minhash() -> None:
    # An independent computation (plain integers, no numpy) of the documented scheme:
    # CRC-32 per word, mixed per three-word shingle, splitmix64 per seed, minimum per seed.
    words = normalized_words(STORY)
    h = [zlib.crc32(w.encode()) for w in words]
    shingle_values = {
        ((h[i] * 0xBF58476D1CE4E5B9) & MASK) ^ ((h[i + 1] * 0x94D049BB133111EB) & MASK) ^ h[i + 2]
        for i in range(len(h) - 2)
    }
    assert shingle_values == shingles(STORY)
    seeds = [int(seed) for seed in fingerprint._SEEDS]
    assert len(seeds) == 64
    minima = [min(_splitmix(v ^ seed) for v in shingle_values) for seed in seeds]
    expected = []
    for band in range(16):
        rows = b"".join(v.to_bytes(8, "little") for v in minima[band * 4 : band * 4 + 4])
        expected.append(f"{band}:" + hashlib.blake2b(rows, digest_size=8).hexdigest())
    assert bands(signature(STORY)) == expected


def test_bands_are_stable_across_processes() -> None:
    code = (
        "import sys\n"
        "from search.fingerprint import bands, signature\n"
        "print(' '.join(bands(signature(sys.stdin.read()))))\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=STORY,
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env={"PYTHONHASHSEED": "12345", "PYTHONPATH": str(root)},
    )
    assert out.stdout.split() == bands(signature(STORY))
