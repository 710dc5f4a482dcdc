"""normalize_string: the ASCII shortcut gives exactly the full Unicode normalisation."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from fhir_sandbox.searchparams.normalize import normalize_string


def unicode_form(value: str) -> str:
    """The definition: NFKD, combining marks removed, case-folded, whitespace collapsed."""
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_text_normalises_as_the_definition_says(value: str) -> None:
    assert normalize_string(value) == unicode_form(value)


@given(st.text())
def test_any_text_normalises_as_the_definition_says(value: str) -> None:
    assert normalize_string(value) == unicode_form(value)


def test_accents_case_and_spaces() -> None:
    assert normalize_string("  Müller\tSTRAßE ") == "muller strasse"
    assert normalize_string("Ångström") == normalize_string("angstrom") == "angstrom"
