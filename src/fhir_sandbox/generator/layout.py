"""The shape of the directory: which organisation is what, where, and linked to whom.

Organisations come in blocks of ``BLOCK`` (25): the first of each block is an NHS trust, the
local hub; the rest are GP practices, pharmacies and independent providers in the trust's
region. That gives about the UK mix (4% trusts, 36% practices, 42% pharmacies, 18%
independent) and lets a practice find "its" trust in O(1).

Everything another organisation needs to know about organisation ``j`` (its kind, whether
its EHR instance is hosted by another trust) is a pure function of ``(seed, j)`` computed
from a hash, never from ``j``'s own random stream. So each organisation is generated from
``(seed, index)`` alone: output is stable, independent of generation order, and links can
always point backwards (to ``j < index``), which keeps the stream referentially ordered.
"""

from __future__ import annotations

import hashlib
import random
from enum import StrEnum
from functools import lru_cache
from typing import Final

from .geo import REGIONS, Region

BLOCK: Final = 25
NON_TRUST_MIX: Final = (("gp", 0.375), ("pharmacy", 0.4375), ("independent", 0.1875))
SHARED_INSTANCE_RATE: Final = 0.2  # trusts using an earlier trust's EHR instance
LOOKBACK_BLOCKS: Final = 12


class Kind(StrEnum):
    """The four kinds of organisation in the directory."""

    TRUST = "trust"
    GP = "gp"
    PHARMACY = "pharmacy"
    INDEPENDENT = "independent"


def unit(seed: int, index: int, salt: str) -> float:
    """A uniform [0, 1) value from a hash: cheap, and free of any random stream's state."""
    digest = hashlib.blake2b(f"{seed}:{index}:{salt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@lru_cache(maxsize=8192)
def kind_of(seed: int, index: int) -> Kind:
    """The kind of organisation ``index`` (cached: partOf scans revisit the same indices)."""
    if index % BLOCK == 0:
        return Kind.TRUST
    draw = unit(seed, index, "kind")
    for name, weight in NON_TRUST_MIX:
        if draw < weight:
            return Kind(name)
        draw -= weight
    return Kind.INDEPENDENT


def region_of(seed: int, index: int) -> Region:
    """The region of the organisation's block; London's three regions make it the largest."""
    return REGIONS[int(unit(seed, index // BLOCK, "region") * len(REGIONS))]


def block_trust(index: int) -> int:
    """The index of the trust heading the organisation's block."""
    return index - index % BLOCK


def uses_shared_instance(seed: int, index: int) -> bool:
    """Whether a trust runs on an earlier trust's EHR instance (as Chelsea and Westminster
    shares Imperial's Millennium); the first trust has nobody to share with."""
    return (
        index >= BLOCK and index % BLOCK == 0 and unit(seed, index, "share") < SHARED_INSTANCE_RATE
    )


def instance_host(seed: int, index: int, rng: random.Random) -> int | None:
    """An earlier trust that hosts its own instance, for a trust that shares one."""
    block = index // BLOCK
    start = rng.randint(max(0, block - LOOKBACK_BLOCKS), block - 1)
    for candidate_block in range(start, -1, -1):
        candidate = candidate_block * BLOCK
        if not uses_shared_instance(seed, candidate):
            return candidate
    return None


def earlier_trust(index: int, rng: random.Random) -> int | None:
    """Any trust in one of the previous blocks (research and shared-record partners)."""
    block = index // BLOCK
    if block == 0:
        return None
    return rng.randint(max(0, block - LOOKBACK_BLOCKS), block - 1) * BLOCK


@lru_cache(maxsize=8192)
def first_of_kind(seed: int, block: int, kind: Kind) -> int | None:
    """The first organisation of ``kind`` in ``block``: heads of pharmacy chains and
    independent groups are the first such organisation of some block."""
    for index in range(block * BLOCK, (block + 1) * BLOCK):
        if kind_of(seed, index) is kind:
            return index
    return None


def group_head(seed: int, index: int, kind: Kind, rng: random.Random) -> int | None:
    """The head office of the chain an organisation belongs to, or None (it is a head
    itself, or the chosen head does not come earlier in the stream)."""
    if first_of_kind(seed, index // BLOCK, kind) == index:
        return None
    block = index // BLOCK
    head = first_of_kind(seed, rng.randint(max(0, block - LOOKBACK_BLOCKS), block), kind)
    if head is None or head >= index:
        return None
    return head


def nearest_earlier(seed: int, index: int, kind: Kind) -> int | None:
    """The closest earlier organisation of ``kind`` in the same block."""
    for candidate in range(index - 1, block_trust(index), -1):
        if kind_of(seed, candidate) is kind:
            return candidate
    return None
