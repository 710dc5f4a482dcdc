"""formats.py: XML out carries the same date and time texts as the stored JSON.

The R4B models parse dates, dateTimes, instants and times into Python objects and would
write them back with `isoformat()` (`.974Z` became `.974000+00:00`); the server's XML must
say what its JSON says, to the character (https://hl7.org/fhir/R4/datatypes.html#dateTime).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from lxml import etree

from fhir_r4 import EXAMPLES
from fhir_sandbox.fhir.formats import to_xml

# a FHIR date, dateTime, instant or time text (datatypes.html), as JSON carries them
TIME_TEXT = re.compile(
    r"^(\d{4}(-\d\d(-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?)?)?)?|\d\d:\d\d:\d\d(\.\d+)?)$"
)


def _time_texts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key not in ("id", "value", "div", "reference", "data"):
                yield from _time_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _time_texts(item)
    elif isinstance(node, str) and TIME_TEXT.match(node) and not node.isdigit():
        yield node


def _xml_values(xml: bytes) -> set[str]:
    return {str(v) for v in etree.fromstring(xml).xpath("//@value")}


def test_times_keep_their_json_text_in_xml() -> None:
    observation = {
        "resourceType": "Observation",
        "id": "t",
        "meta": {"lastUpdated": "2026-12-07T05:00:00.974Z"},
        "status": "final",
        "code": {"text": "times"},
        "effectiveTiming": {"event": ["2021-03-01T10:00:00.5Z", "2021-03-02T10:00:00+01:00"]},
        "issued": "2021-03-01T10:00:00.000Z",
        "component": [
            {"code": {"text": "a"}, "valueDateTime": "2021-03"},
            {"code": {"text": "b"}, "valueTime": "08:30:00.25"},
            {"code": {"text": "c"}, "valuePeriod": {"start": "2021", "end": "2021-03-01"}},
        ],
    }
    values = _xml_values(to_xml(observation))
    assert set(_time_texts(observation)) <= values
    assert not [v for v in values if re.search(r"\.\d{6}|\+00:00", v)]


def test_bundles_keep_the_texts_of_their_entries() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": "2026-12-07T05:00:00.1Z",
        "entry": [{"resource": {"resourceType": "Practitioner", "id": "p",
                                "meta": {"lastUpdated": "2026-12-07T05:00:00.974Z"},
                                "birthDate": "1980-02"}}],
    }  # fmt: skip
    assert {"2026-12-07T05:00:00.1Z", "2026-12-07T05:00:00.974Z", "1980-02"} <= _xml_values(
        to_xml(bundle)
    )


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_official_examples_keep_their_time_texts(path: Path) -> None:
    example = orjson.loads(path.read_bytes())
    assert set(_time_texts(example)) <= _xml_values(to_xml(example))
