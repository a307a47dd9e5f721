"""Fingerprints of article text: an exact body hash and near-duplicate bands.

Near-duplicates (the same wire story with another headline, an extra
paragraph) are found by MinHash over three-word shingles: a 64-value signature
is stored with each article, and cut into 16 bands of 4 values for lookup (LSH).
Two texts whose shingle sets have a Jaccard similarity of 0.8 share a band with
probability above 0.999, at 0.5 with probability 0.64, at 0.2 almost never.
Candidates are confirmed by the similarity their signatures estimate.
"""

from __future__ import annotations

import hashlib
import zlib

import numpy as np

from search.analysis import fold, words

SHINGLE_WORDS = 3
NUM_HASHES = 64
ROWS_PER_BAND = 4
NEAR_DUPLICATE_JACCARD = 0.5

# Fixed seeds: bands must be stable across runs, processes and hosts.
_SEEDS = np.random.default_rng(20261127).integers(0, 2**63, NUM_HASHES, dtype=np.uint64)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def normalized_words(text: str) -> list[str]:
    """The folded words of a text: what both fingerprints are computed from."""
    return [fold(w) for w in words(text)]


def body_hash(text: str) -> str:
    """A hash of the folded words: equal for bodies that differ only in case, accents or spacing."""
    return _hash(normalized_words(text))


def fingerprints(text: str) -> tuple[str, np.ndarray]:
    """``(body_hash, signature)`` of a text, reading its words once."""
    folded = normalized_words(text)
    return _hash(folded), _signature(_shingle_values(folded))


def _hash(folded: list[str]) -> str:
    return hashlib.sha1(" ".join(folded).encode("utf-8")).hexdigest()


def _shingle_values(words: list[str]) -> np.ndarray:
    """64-bit hashes of the overlapping runs of three words, deduplicated."""
    if len(words) < SHINGLE_WORDS:
        words = words + [""] * (SHINGLE_WORDS - len(words))
    # Each word is hashed once (CRC-32, stable across processes); a shingle mixes the
    # hashes of its three words, vectorised.
    h = np.fromiter((zlib.crc32(w.encode()) for w in words), dtype=np.uint64, count=len(words))
    with np.errstate(over="ignore"):
        mixed = (h[:-2] * _M1) ^ (h[1:-1] * _M2) ^ h[2:]
    return np.unique(mixed)


def shingles(text: str) -> set[int]:
    """The shingle hashes of a text, as a set (for exact Jaccard similarity)."""
    return set(_shingle_values(normalized_words(text)).tolist())


def signature(text: str) -> np.ndarray:
    """The MinHash signature of a text: one minimum per hash function."""
    return _signature(_shingle_values(normalized_words(text)))


def _signature(values: np.ndarray) -> np.ndarray:
    # One hash function per seed: the splitmix64 finaliser of (shingle xor seed).
    z = values[None, :] ^ _SEEDS[:, None]
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return (z ^ (z >> np.uint64(31))).min(axis=1)


def bands(sig: np.ndarray) -> list[str]:
    """The LSH band keys of a signature: equal keys mark near-duplicate candidates."""
    return [
        f"{band}:"
        + hashlib.blake2b(
            sig[band * ROWS_PER_BAND : (band + 1) * ROWS_PER_BAND].tobytes(), digest_size=8
        ).hexdigest()
        for band in range(NUM_HASHES // ROWS_PER_BAND)
    ]


def encode(sig: np.ndarray) -> str:
    """A signature as text, to store with the article."""
    return sig.astype("<u8").tobytes().hex()


def decode(text: str) -> np.ndarray:
    return np.frombuffer(bytes.fromhex(text), dtype="<u8").astype(np.uint64)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """The Jaccard similarity estimated from two signatures (the share of equal minima)."""
    return float(np.mean(a == b))


def jaccard(a: set[int], b: set[int]) -> float:
    """The exact Jaccard similarity of two shingle sets."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)
