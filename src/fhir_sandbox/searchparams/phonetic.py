"""Keys for the `phonetic` search parameters (Practitioner, Organization, …): American Soundex.

R4 defines `phonetic` as "a portion of the name using some kind of phonetic matching
algorithm" and leaves the algorithm to the server; Soundex is the oldest and best known
(one of the encoders HAPI FHIR offers), and its keys are what a client can reason about
("Smith" and "Smyth" are both S530). Both sides are keyed alike, after case and accent
folding: each stored string (a name part such as `Chloe`, or an organisation's whole name)
and the search value; a search matches the strings whose key equals the value's.
https://www.archives.gov/research/census/soundex gives the rules.
"""

from __future__ import annotations

from fhir_sandbox.searchparams.normalize import normalize_string

_CODES = {
    **dict.fromkeys("bfpv", "1"), **dict.fromkeys("cgjkqsxz", "2"), **dict.fromkeys("dt", "3"),
    "l": "4", **dict.fromkeys("mn", "5"), "r": "6",
}  # fmt: skip
_SILENT = frozenset("hw")  # consonants with one code either side of h or w are coded once


def phonetic_key(text: str) -> str:
    """The Soundex key of `text` (its letters after folding), or "" when it has none."""
    return soundex(normalize_string(text))


def soundex(folded: str) -> str:
    """Soundex of lower-case ASCII letters (anything else is skipped): the first letter,
    then the codes of the following consonants, a code repeated only after a vowel, to four."""
    letters = [c for c in folded if "a" <= c <= "z"]
    if not letters:
        return ""
    key, last = [letters[0].upper()], _CODES.get(letters[0], "")
    for letter in letters[1:]:
        if letter in _SILENT:
            continue
        code = _CODES.get(letter, "")
        if code and code != last:
            key.append(code)
            if len(key) == 4:
                break
        last = code
    return "".join(key).ljust(4, "0")
