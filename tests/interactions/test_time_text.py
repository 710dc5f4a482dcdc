"""The write path's time texts, formatted field by field, say what strftime says (and pad
years before 1000, which glibc's %Y does not)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from fhir_sandbox.interactions.versions import http_date, instant
from fhir_sandbox.searchparams.normalize import instant_text

moments = st.datetimes(min_value=datetime(1000, 1, 1), timezones=st.just(UTC))


@given(moments)
def test_instant_and_http_date_match_strftime(moment: datetime) -> None:
    millis = f"{moment.microsecond // 1000:03d}Z"
    assert instant(moment) == moment.strftime("%Y-%m-%dT%H:%M:%S.") + millis
    assert http_date(moment) == moment.strftime("%a, %d %b %Y %H:%M:%S GMT")


@given(st.datetimes(timezones=st.just(UTC)))
def test_instant_text_is_fixed_width_and_sorts_like_time(moment: datetime) -> None:
    text = instant_text(moment)
    assert len(text) == 26 and text == moment.strftime("%Y-%m-%dT%H:%M:%S.%f").rjust(26, "0")


def test_early_years_are_padded() -> None:
    assert instant(datetime(237, 12, 28, 2, 23, 21, 704025, tzinfo=UTC)) == (
        "0237-12-28T02:23:21.704Z"
    )
