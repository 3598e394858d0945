"""TIME-* boundaries (calendar months, half-open), SITE-* with marrow blasts, MRD comparators."""

from __future__ import annotations

from datetime import date

import pytest

from service.domain.facts import MrdBand, mrd_bands, mrd_position
from service.domain.inputs import Site
from service.domain.sites import read_sites
from service.domain.timing import bfm_timing, call_timing, cog_timing
from tests.domain.builders import mrd

D = date


@pytest.mark.parametrize(
    ("diagnosis", "relapse", "expected"),
    [
        pytest.param(D(2020, 1, 15), D(2021, 7, 14), "very_early", id="18mo-day-before"),
        pytest.param(D(2020, 1, 15), D(2021, 7, 15), "late", id="18mo-anniversary"),
        pytest.param(D(2020, 8, 31), D(2022, 2, 27), "very_early", id="18mo-month-end-day-before"),
        pytest.param(D(2020, 8, 31), D(2022, 2, 28), "late", id="18mo-month-end-anniversary"),
        pytest.param(D(2020, 2, 29), D(2021, 8, 28), "very_early", id="18mo-leap-day-before"),
        pytest.param(D(2020, 2, 29), D(2021, 8, 29), "late", id="18mo-leap-anniversary"),
    ],
)
def test_time_bfm_18_months(diagnosis: date, relapse: date, expected: str) -> None:
    # End of therapy long before: not very early means late here.
    assert bfm_timing(diagnosis, relapse, D(2000, 1, 1), False) == expected


@pytest.mark.parametrize(
    ("end", "relapse", "expected"),
    [
        pytest.param(D(2021, 8, 31), D(2022, 2, 27), "early", id="6mo-month-end-day-before"),
        pytest.param(D(2021, 8, 31), D(2022, 2, 28), "late", id="6mo-month-end-anniversary"),
        pytest.param(D(2021, 3, 10), D(2021, 9, 9), "early", id="6mo-day-before"),
        pytest.param(D(2021, 3, 10), D(2021, 9, 10), "late", id="6mo-anniversary"),
    ],
)
def test_time_bfm_6_months_after_therapy(end: date, relapse: date, expected: str) -> None:
    assert bfm_timing(D(2018, 1, 1), relapse, end, False) == expected


def test_time_bfm_on_therapy_is_early_unless_very_early() -> None:
    assert bfm_timing(D(2018, 1, 1), D(2020, 6, 1), None, True) == "early"
    assert bfm_timing(D(2018, 1, 1), D(2019, 1, 1), None, True) == "very_early"


@pytest.mark.parametrize(
    ("diagnosis", "relapse", "end", "on_therapy"),
    [
        pytest.param(None, D(2020, 1, 1), D(2019, 1, 1), False, id="no-diagnosis-date"),
        pytest.param(D(2015, 1, 1), None, D(2019, 1, 1), False, id="no-relapse-date"),
        pytest.param(D(2015, 1, 1), D(2020, 1, 1), None, None, id="no-end-of-therapy"),
        pytest.param(D(2015, 1, 1), D(2020, 1, 1), None, False, id="not-on-therapy-no-end"),
    ],
)
def test_time_bfm_indeterminate(
    diagnosis: date | None, relapse: date | None, end: date | None, on_therapy: bool | None
) -> None:
    assert bfm_timing(diagnosis, relapse, end, on_therapy) == "indeterminate"


def test_time_bfm_very_early_needs_no_end_of_therapy() -> None:
    assert bfm_timing(D(2015, 1, 1), D(2016, 1, 1), None, None) == "very_early"


@pytest.mark.parametrize(
    ("diagnosis", "relapse", "marrow", "expected"),
    [
        pytest.param(D(2019, 5, 31), D(2022, 5, 30), True, "early", id="36mo-marrow-day-before"),
        pytest.param(D(2019, 5, 31), D(2022, 5, 31), True, "late", id="36mo-marrow-anniversary"),
        pytest.param(D(2019, 5, 31), D(2020, 11, 29), False, "early", id="18mo-IEM-day-before"),
        pytest.param(D(2019, 5, 31), D(2020, 11, 30), False, "late", id="18mo-IEM-month-end"),
        pytest.param(
            D(2019, 5, 31), D(2021, 5, 31), None, "indeterminate", id="24mo-sites-unknown"
        ),
        pytest.param(D(2019, 5, 31), D(2020, 5, 31), None, "early", id="12mo-sites-unknown"),
        pytest.param(D(2019, 5, 31), D(2022, 6, 1), None, "late", id="37mo-sites-unknown"),
        pytest.param(None, D(2022, 6, 1), True, "indeterminate", id="no-diagnosis"),
    ],
)
def test_time_cog(
    diagnosis: date | None, relapse: date, marrow: bool | None, expected: str
) -> None:
    assert cog_timing(diagnosis, relapse, marrow) == expected


@pytest.mark.parametrize(
    ("diagnosis", "relapse", "expected"),
    [
        pytest.param(D(2020, 1, 31), D(2022, 1, 30), "early", id="24mo-day-before"),
        pytest.param(D(2020, 1, 31), D(2022, 1, 31), "late", id="24mo-anniversary"),
        pytest.param(D(2020, 2, 29), D(2022, 2, 27), "early", id="24mo-leap-day-before"),
        pytest.param(D(2020, 2, 29), D(2022, 2, 28), "late", id="24mo-leap-anniversary"),
        pytest.param(D(2020, 2, 29), None, "indeterminate", id="no-relapse-date"),
    ],
)
def test_time_call(diagnosis: date, relapse: date | None, expected: str) -> None:
    assert call_timing(diagnosis, relapse) == expected


M, C, T, OTHER = Site.MARROW, Site.CNS, Site.TESTIS, Site.OTHER


@pytest.mark.parametrize(
    ("sites", "blasts", "pattern", "conflict"),
    [
        pytest.param({M}, None, "isolated_marrow", False, id="SITE-IM"),
        pytest.param({M, C}, None, "combined", False, id="SITE-C"),
        pytest.param({T}, None, "isolated_extramedullary", False, id="SITE-IEM"),
        pytest.param({M}, 2.0, "isolated_marrow", True, id="coded-marrow-wins-over-M1"),
        pytest.param({M}, 10.0, "isolated_marrow", True, id="coded-marrow-wins-over-M2-alone"),
        pytest.param({M, C}, 10.0, "combined", False, id="coded-marrow-M2-with-EM-agrees"),
        pytest.param({M}, 30.0, "isolated_marrow", False, id="coded-marrow-M3-agrees"),
        pytest.param({C}, 25.0, "combined", False, id="M2-upper-bound-with-EM-combined"),
        pytest.param({C}, 5.0, "combined", False, id="M2-lower-bound-with-EM-combined"),
        pytest.param({C}, 4.9, "isolated_extramedullary", False, id="M1-with-EM-isolated-EM"),
        pytest.param({OTHER}, 25.1, "combined", False, id="M3-with-EM-combined"),
        pytest.param(None, 25.1, "indeterminate", False, id="M3-no-site-EM-unknown"),
        pytest.param(None, 3.0, "isolated_extramedullary", False, id="M1-no-site"),
        pytest.param(None, 10.0, "indeterminate", False, id="M2-alone"),
        pytest.param(None, None, "indeterminate", False, id="no-sites-no-blasts"),
        pytest.param(set(), None, "indeterminate", False, id="empty-sites-no-blasts"),
    ],
)
def test_site_pattern(
    sites: set[Site] | None, blasts: float | None, pattern: str, conflict: bool
) -> None:
    reading = read_sites(None if sites is None else frozenset(sites), blasts)
    assert reading.pattern == pattern
    assert bool(reading.warnings) == conflict


def test_m3_without_sites_is_always_marrow_and_m1_never() -> None:
    assert all(M in s for s in read_sites(None, 30.0).possible)
    assert all(M in s for s in read_sites(None, 10.0).possible)
    m1 = read_sites(None, 1.0).possible
    assert m1
    assert all(M not in s and s for s in m1)


@pytest.mark.parametrize(
    ("value", "comparator", "threshold", "below"),
    [
        pytest.param(9e-4, "=", 1e-3, True, id="exact-below"),
        pytest.param(1e-3, "=", 1e-3, False, id="exact-equal-is-at-or-above"),
        pytest.param(1e-3, "<", 1e-3, True, id="lt-equal-threshold-below"),
        pytest.param(1e-3, "<", 1e-4, None, id="lt-above-threshold-unknown"),
        pytest.param(1e-3, "<=", 1e-3, None, id="le-equal-threshold-unknown"),
        pytest.param(5e-4, "<=", 1e-3, True, id="le-below"),
        pytest.param(1e-3, ">", 1e-3, False, id="gt-equal-at-or-above"),
        pytest.param(1e-3, ">=", 1e-3, False, id="ge-equal-at-or-above"),
        pytest.param(5e-4, ">", 1e-3, None, id="gt-below-threshold-unknown"),
    ],
)
def test_mrd_comparators(
    value: float, comparator: str, threshold: float, below: bool | None
) -> None:
    assert mrd_position(mrd(value, comparator), threshold) is below


def test_mrd_bands() -> None:
    assert mrd_bands(None) == tuple(MrdBand)
    assert mrd_bands(mrd(1e-3, "<")) == (MrdBand.BELOW_1E4, MrdBand.BELOW_1E3)
    assert mrd_bands(mrd(5e-4)) == (MrdBand.BELOW_1E3,)
    assert mrd_bands(mrd(2e-4, ">")) == (MrdBand.BELOW_1E3, MrdBand.AT_LEAST_1E3)
