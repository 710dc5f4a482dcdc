"""Resource ids and business identifiers, all derived from the organisation index.

Why they cannot be mistaken for real registrations (DESIGN.md 7); every resource also
carries the ``HTEST`` security label, which is the safeguard of last resort:

* ODS organisation codes are ``ZZ`` + the index in base 36 (at least four characters,
  ``ZZ0000``, ``ZZ0001``...). ODS codes for trusts start with R, practices with a regional
  letter, pharmacies with F; ``ZZ`` marks the value as a dummy, as in the NHS ``ZZ99``
  pseudo-postcodes. Site codes append two digits, as real site codes do (``RTH08``).
* GMC numbers are ``9`` + six digits: the GMC numbers doctors sequentially and has not
  reached the nine-millions (recent registrants hold 7xxxxxx numbers).
* NMC PINs have the real shape ``YY`` + month letter + four digits + country letter
  (``E``/``S``/``W``/``N``), but the month letter is always ``Z``: real PINs use A-L for
  January-December, so a ``Z`` PIN is impossible.
* GPhC numbers are seven digits starting ``2`` as required, in the block 2800000-2999999;
  pharmacist numbers issued so far are in the low two-millions.
* SDS user ids are 12 digits starting ``9999``. SDS ids are opaque (no public rule to
  break), so here the HTEST label, not the number, is what marks them as test data.

Uniqueness: resource ids and ODS/site codes are unique for any number of organisations.
Professional numbers are unique while the directory has fewer than 100,000 organisations
(the GPhC block is the smallest: two pharmacist slots per organisation); beyond that they
repeat, deterministically, but stay in the synthetic ranges.
"""

from __future__ import annotations

from typing import Final

MAX_STAFF: Final = 8  # practitioners per organisation (slot space for GMC/NMC/SDS numbers)
MAX_PHARMACISTS: Final = 2  # pharmacists per organisation (slot space for GPhC numbers)
_BASE36: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SPREAD: Final = 7919  # a prime coprime to every modulus below, so _spread is a bijection


def org_id(index: int) -> str:
    """The Organization id; zero-padded so ids sort in generation order."""
    return f"gen-org-{index:06d}"


def child_id(prefix: str, index: int, number: int) -> str:
    """The id of the ``number``-th resource of a kind owned by organisation ``index``."""
    return f"gen-{prefix}-{index:06d}-{number}"


def ods_code(index: int) -> str:
    """``ZZ`` + base-36 index, left-padded to four characters (unique for every index)."""
    digits = ""
    value = index
    while True:
        value, rest = divmod(value, 36)
        digits = _BASE36[rest] + digits
        if value == 0:
            break
    return "ZZ" + digits.rjust(4, "0")


def site_code(org_code: str, number: int) -> str:
    """A site code: the organisation code plus a two-digit site number."""
    return f"{org_code}{number:02d}"


def _spread(serial: int, modulus: int) -> int:
    """Map slot serials onto the range without looking sequential, keeping them distinct
    (multiplication by a unit modulo ``modulus`` is a permutation)."""
    return (serial * _SPREAD + 4242) % modulus


def gmc_number(index: int, slot: int) -> str:
    """A 7-digit GMC number in the unissued 9xxxxxx block."""
    return f"9{_spread(index * MAX_STAFF + slot, 1_000_000):06d}"


def nmc_pin(index: int, slot: int) -> str:
    """An 8-character NMC PIN with the impossible month letter ``Z``."""
    serial = _spread(index * MAX_STAFF + slot, 4_000_000)
    serial, country = divmod(serial, 4)
    year, number = divmod(serial, 10_000)
    return f"{year:02d}Z{number:04d}{'ESWN'[country]}"


def gphc_number(index: int, slot: int) -> str:
    """A 7-digit GPhC number in 2800000-2999999."""
    return str(2_800_000 + _spread(index * MAX_PHARMACISTS + slot, 200_000))


def sds_user_id(index: int, slot: int) -> str:
    """A 12-digit SDS user id starting 9999."""
    return f"9999{_spread(index * MAX_STAFF + slot, 100_000_000):08d}"
