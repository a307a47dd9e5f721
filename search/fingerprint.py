"""Fingerprints of article text: an exact body hash and near-duplicate bands.

Near-duplicates (the same wire story with another headline, an extra
paragraph) are found by MinHash over word shingles, banded for lookup (LSH):
two texts with a shingle Jaccard similarity of 0.8 share a band with
probability 0.985, two unrelated texts almost never. Candidates are then
confirmed by their exact Jaccard similarity.
"""

from __future__ import annotations

import hashlib

import numpy as np

from search.analysis import fold, tokenize

SHINGLE_WORDS = 3
NUM_HASHES = 32
ROWS_PER_BAND = 4
NEAR_DUPLICATE_JACCARD = 0.5

# Fixed seeds: bands must be stable across runs, processes and hosts.
_SEEDS = np.random.default_rng(20261127).integers(0, 2**63, NUM_HASHES, dtype=np.uint64)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def normalized_words(text: str) -> list[str]:
    """The folded words of a text: what both fingerprints are computed from."""
    return [fold(t.word) for t in tokenize(text)]


def body_hash(text: str) -> str:
    """A hash of the folded words: equal for bodies that differ only in case, accents or spacing."""
    return hashlib.sha1(" ".join(normalized_words(text)).encode("utf-8")).hexdigest()


def shingles(text: str) -> set[int]:
    """64-bit hashes of the overlapping runs of three words."""
    words = normalized_words(text)
    if len(words) < SHINGLE_WORDS:
        words = words + [""] * (SHINGLE_WORDS - len(words))
    out = set()
    for i in range(len(words) - SHINGLE_WORDS + 1):
        digest = hashlib.blake2b(" ".join(words[i : i + SHINGLE_WORDS]).encode(), digest_size=8)
        out.add(int.from_bytes(digest.digest(), "little"))
    return out


def bands(shingle_set: set[int]) -> list[str]:
    """The LSH band keys of a shingle set: equal keys mark near-duplicate candidates."""
    if not shingle_set:
        return []
    values = np.fromiter(shingle_set, dtype=np.uint64, count=len(shingle_set))
    # One hash function per seed: the splitmix64 finaliser of (shingle xor seed).
    z = values[None, :] ^ _SEEDS[:, None]
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    signature = (z ^ (z >> np.uint64(31))).min(axis=1)
    out = []
    for band in range(NUM_HASHES // ROWS_PER_BAND):
        rows = signature[band * ROWS_PER_BAND : (band + 1) * ROWS_PER_BAND]
        out.append(f"{band}:" + hashlib.blake2b(rows.tobytes(), digest_size=8).hexdigest())
    return out


def jaccard(a: set[int], b: set[int]) -> float:
    """The Jaccard similarity of two shingle sets."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)
