"""Server-assigned ids: random UUIDs (version 4), without a system call each.

`uuid.uuid4()` reads 16 bytes from the kernel (`os.urandom`) for every id: on this
machine's virtualised one-core server that call cost ~8 % of a search's time (every
searchset Bundle gets an id) and let other threads take the GIL in between. These ids need
to be unique, not unguessable: 122 random bits from the `random` module's generator, which
is seeded from the kernel at start-up and reseeded in every forked child process.
"""

from __future__ import annotations

import random
import uuid


def new_id() -> str:
    """A random version-4 UUID as text."""
    return str(uuid.UUID(int=random.getrandbits(128), version=4))
