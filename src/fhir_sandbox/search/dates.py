"""Date prefix semantics (https://hl7.org/fhir/R4/search.html#prefix), shared by engines.

A resource value is a range [low, high]; so is the search value. Each prefix is a
comparison between the two ranges. The SQL engine compiles the same table.
"""

from __future__ import annotations

from collections.abc import Callable

#: prefix -> predicate(resource_low, resource_high, search_low, search_high)
DATE_PREDICATES: dict[str, Callable[[str, str, str, str], bool]] = {
    "eq": lambda rl, rh, sl, sh: rl >= sl and rh <= sh,
    "ne": lambda rl, rh, sl, sh: not (rl >= sl and rh <= sh),
    "gt": lambda rl, rh, sl, sh: rh > sh,
    "lt": lambda rl, rh, sl, sh: rl < sl,
    # ge = gt or eq: "the range above the search value intersects the range of the target
    # value, or the range of the search value fully contains [it]"; le likewise with lt
    "ge": lambda rl, rh, sl, sh: rh > sh or rl >= sl,
    "le": lambda rl, rh, sl, sh: rl < sl or rh <= sh,
    "sa": lambda rl, rh, sl, sh: rl > sh,
    "eb": lambda rl, rh, sl, sh: rh < sl,
    "ap": lambda rl, rh, sl, sh: rl <= sh and rh >= sl,
}

PREFIXES = tuple(DATE_PREDICATES)
