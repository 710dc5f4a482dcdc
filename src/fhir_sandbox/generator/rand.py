"""The random stream used for one organisation.

``Stream`` is ``random.Random`` (Mersenne Twister, seeded from a string) with our own
integer draws: ``int(random() * n)`` instead of CPython's rejection sampling. Why: the
generator makes ~40 integer draws per resource and the stock pure-Python ``randrange``
path was its largest cost (about twice as slow); and draws that depend only on
``random()`` keep output identical across Python versions even if CPython changes its
private integer algorithm. The bias of ``int(random() * n)`` is below 2**-40 for the
small ranges used here, irrelevant for synthetic data.
"""

from __future__ import annotations

import random


class Stream(random.Random):
    """A seeded random stream with fast, version-stable integer draws."""

    def _randbelow(self, n: int) -> int:  # used by choice(), randrange() and shuffle()
        return int(self.random() * n)

    def randint(self, a: int, b: int) -> int:
        """An integer in [a, b], both included, from a single ``random()`` draw."""
        return a + int(self.random() * (b - a + 1))
