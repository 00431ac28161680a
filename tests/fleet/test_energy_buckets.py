"""Bucket arithmetic of the energy aggregation at the ends of time: no OverflowError, no
endless loop, for any moment a datetime can hold and any offset a timestamp can carry."""

from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fleet.errors import InvalidParameter
from fleet.services.energy import (
    EARLIEST,
    LATEST,
    MAX_BUCKETS,
    as_utc,
    bucket_floor,
    bucket_label,
    bucket_next,
    buckets,
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def offset(hours: int, minutes: int = 0) -> timezone:
    return timezone(timedelta(hours=hours, minutes=minutes))


@pytest.mark.parametrize(
    ("start", "granularity"),
    [
        (utc(9999, 12, 31, 23), "hour"),
        (utc(9999, 12, 31), "day"),
        (utc(9999, 12, 1), "month"),
    ],
)
def test_the_last_bucket_of_year_9999_ends_at_the_last_moment(start, granularity):
    assert bucket_next(start, granularity) == LATEST


def test_the_buckets_of_a_range_ending_at_the_last_moment():
    assert buckets(utc(9999, 12, 31, 21), LATEST, "hour") == [
        utc(9999, 12, 31, 21),
        utc(9999, 12, 31, 22),
        utc(9999, 12, 31, 23),
    ]
    assert buckets(utc(9999, 12, 1), LATEST, "day")[-1] == utc(9999, 12, 31)
    assert len(buckets(utc(9999, 12, 1), LATEST, "day")) == 31
    assert buckets(utc(9999, 1, 15), LATEST, "month") == [utc(9999, m, 1) for m in range(1, 13)]


def test_moments_past_either_end_in_utc_are_clamped():
    # 23:00 at UTC-5 on the last day is 04:00 on 10000-01-01 in UTC; 00:30 at UTC+1 on
    # the first day is 23:30 on 0000-12-31.
    assert as_utc(datetime(9999, 12, 31, 23, tzinfo=offset(-5))) == LATEST
    assert as_utc(datetime(1, 1, 1, 0, 30, tzinfo=offset(1))) == EARLIEST
    assert as_utc(datetime(9999, 12, 31, 23, tzinfo=offset(5))) == utc(9999, 12, 31, 18)
    assert bucket_floor(datetime(9999, 12, 31, 23, tzinfo=offset(-5)), "day") == utc(9999, 12, 31)


def test_a_range_ending_past_the_last_moment_stops_there():
    end = datetime(9999, 12, 31, 23, 59, tzinfo=offset(-23, -59))
    assert buckets(utc(9999, 12, 31, 22), end, "hour") == [
        utc(9999, 12, 31, 22),
        utc(9999, 12, 31, 23),
    ]
    assert buckets(end - timedelta(hours=1), end, "month") == [utc(9999, 12, 1)]


def test_a_range_starting_before_the_first_moment_starts_there():
    start = datetime(1, 1, 1, 0, 0, tzinfo=offset(23, 59))
    assert buckets(start, utc(1, 1, 1, 2), "hour") == [utc(1, 1, 1, 0), utc(1, 1, 1, 1)]
    assert buckets(start, utc(1, 3, 1), "month") == [utc(1, 1, 1), utc(1, 2, 1)]


def test_the_whole_of_time_is_too_many_buckets_not_an_error():
    with pytest.raises(InvalidParameter):
        buckets(EARLIEST, LATEST, "month")


@pytest.mark.parametrize(
    ("moment", "granularity", "label"),
    [
        (utc(1, 1, 1), "hour", "0001-01-01T00:00:00Z"),
        (utc(5, 2, 3), "day", "0005-02-03"),
        (utc(987, 6, 1), "month", "0987-06"),
        (utc(9999, 12, 31, 23), "hour", "9999-12-31T23:00:00Z"),
        (utc(2025, 3, 15, 11), "hour", "2025-03-15T11:00:00Z"),
        (utc(2025, 3, 15), "day", "2025-03-15"),
        (utc(2025, 3, 1), "month", "2025-03"),
    ],
)
def test_labels_have_four_digit_years(moment, granularity, label):
    assert bucket_label(moment, granularity) == label


offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.datetimes(min_value=datetime.min, max_value=datetime.max, timezones=offsets)


@given(
    start=moments,
    span=st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=800)),
    granularity=st.sampled_from(["hour", "day", "month"]),
    end_offset=offsets,
)
def test_buckets_never_overflow(start, span, granularity, end_offset):
    """Any range of aware moments, anywhere in time: a list of buckets or a 1001."""
    try:
        end = (start + span).astimezone(end_offset)
    except OverflowError:
        assume(False)
    try:
        edges = buckets(start, end, granularity)
    except InvalidParameter:
        return  # more than MAX_BUCKETS
    assert len(edges) <= MAX_BUCKETS
    first, last = as_utc(start), min(as_utc(end), LATEST)
    if first < last:
        assert edges[0] == bucket_floor(first, granularity) <= first
    for bucket, following in pairwise(edges):
        assert following == bucket_next(bucket, granularity) > bucket
    if edges:
        assert edges[-1] < last <= bucket_next(edges[-1], granularity)
        for bucket in edges:
            bucket_label(bucket, granularity)
