"""Running an interaction again when the database aborted its transaction.

Serialisation failures and deadlocks (errors.Contention) are normal under concurrent writes
on PostgreSQL; the spec's answer to a client would be a 5xx, but the right thing for the
server is to retry a few times first.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from fhir_sandbox.errors import Contention
from fhir_sandbox.interactions.context import Context
from fhir_sandbox.interactions.request import FhirRequest, Result

Interaction = Callable[[Context, FhirRequest], Result]

CONTENTION_ATTEMPTS = 3


def with_retries(interaction: Interaction, ctx: Context, fhir: FhirRequest) -> Result:
    """Run the interaction again when the database aborted its transaction (serialisation
    failure, deadlock: errors.Contention). Nothing was written by the aborted attempt, and
    every interaction writes in one session (a batch reports per entry), so this is safe."""
    for attempt in range(1, CONTENTION_ATTEMPTS + 1):
        try:
            return interaction(ctx, fhir)
        except Contention:
            if attempt == CONTENTION_ATTEMPTS:
                raise
            time.sleep(random.uniform(0.01, 0.05) * attempt)
    raise AssertionError("unreachable")
