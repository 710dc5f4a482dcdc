"""searchparams/phonetic.py: American Soundex as the US National Archives define it."""

from __future__ import annotations

import pytest

from fhir_sandbox.searchparams.phonetic import phonetic_key, soundex

# https://www.archives.gov/research/census/soundex and the classic test words
NARA = {
    "robert": "R163", "rupert": "R163", "rubin": "R150", "ashcraft": "A261",
    "ashcroft": "A261", "tymczak": "T522", "pfister": "P236", "honeyman": "H555",
    "gutierrez": "G362", "jackson": "J250", "washington": "W252", "lee": "L000",
    "smith": "S530", "smyth": "S530",
}  # fmt: skip


@pytest.mark.parametrize(("word", "key"), NARA.items())
def test_soundex_of_the_reference_words(word: str, key: str) -> None:
    assert soundex(word) == key


def test_keys_fold_case_accents_and_skip_what_is_not_a_letter() -> None:
    assert phonetic_key("Müller") == phonetic_key("MUELLER") == phonetic_key("muller") == "M460"
    assert phonetic_key("O'Brien") == phonetic_key("OBrien") == "O165"
    assert phonetic_key("Chloë") == "C400"


def test_text_without_letters_has_no_key() -> None:
    assert phonetic_key("") == phonetic_key("123") == phonetic_key("—") == ""
