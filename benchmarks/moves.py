"""Precision and recall of talent moves on the project's own labelled texts.

Run by hand:  .venv/bin/python -m benchmarks.moves [--part measure|fit|unseen] [--speed]

A found move is right when person, origin and destination are all right.
Printed overall, per language and per trap kind; ``--speed`` also prints the
median milliseconds per text of :func:`search.moves.extract` on one core.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path

from search.moves import extract

DATA = Path(__file__).parent / "data" / "moves"


def load(part: str) -> list[dict]:
    """The labelled texts of one part (``fit`` or ``measure``)."""
    lines = (DATA / f"{part}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def score(texts: list[dict]) -> dict[str, list[int]]:
    """``{group: [true positives, found, expected]}`` for all, each language, each trap."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for text in texts:
        found = {(m.person, m.origin, m.destination) for m in extract("", text["text"])}
        expected = {tuple(m) for m in text["moves"]}
        for group in ("all", f"lang={text['lang']}", f"trap={text['trap']}"):
            counts[group][0] += len(found & expected)
            counts[group][1] += len(found)
            counts[group][2] += len(expected)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--part", default="measure", choices=["measure", "fit", "unseen"])
    parser.add_argument("--speed", action="store_true")
    args = parser.parse_args()
    texts = load(args.part)
    print(f"{len(texts)} texts ({args.part})")
    print(f"{'group':<18} {'precision':>9} {'recall':>7} {'tp':>4} {'found':>5} {'exp':>4}")
    for group, (tp, found, expected) in sorted(score(texts).items()):
        precision = f"{tp / found:.2f}" if found else "-"
        recall = f"{tp / expected:.2f}" if expected else "-"
        print(f"{group:<18} {precision:>9} {recall:>7} {tp:>4} {found:>5} {expected:>4}")
    if args.speed:
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            for text in texts:
                extract("", text["text"])
            runs.append((time.perf_counter() - start) * 1000 / len(texts))
        print(f"extract: median {statistics.median(runs):.3f} ms per text")


if __name__ == "__main__":
    main()
