"""Where the official FHIR R4 definitions and examples the tests check against live.

They are HL7's, not ours to ship: the tests read them from `shared/fhir-r4` beside this
checkout (`../shared/fhir-r4`), or from wherever `FHIR_SANDBOX_FHIR_R4_DIR` points.
tests/conftest.py stops the run with a clear message when the folder is missing, so that
no test parametrised over its files silently collects nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "fhir-r4"
FHIR_R4 = Path(os.environ.get("FHIR_SANDBOX_FHIR_R4_DIR") or DEFAULT)
EXAMPLES = FHIR_R4 / "examples"
UKCORE_EXAMPLES = FHIR_R4 / "uk" / "ukcore" / "examples"
PROFILES_RESOURCES = FHIR_R4 / "profiles-resources.json"


def missing() -> str | None:
    """Why the tests cannot run against the official files, or None."""
    needed = [EXAMPLES, UKCORE_EXAMPLES, PROFILES_RESOURCES]
    absent = [str(path) for path in needed if not path.exists()]
    if not absent:
        return None
    return (
        f"the official FHIR R4 files the tests check against are missing ({', '.join(absent)}): "
        "check this repository out beside the project's `shared` folder (../shared/fhir-r4) "
        "or set FHIR_SANDBOX_FHIR_R4_DIR to a folder holding examples/, uk/ukcore/examples/ "
        "and profiles-resources.json"
    )
