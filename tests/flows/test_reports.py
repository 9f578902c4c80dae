"""The dashboard's read-side queries (verification/reports.py) and the SVG
charts that draw them (verification/charts.py)."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from tests.support.factories import new_session
from verification.backoffice import reports
from verification.models import VendorCall, VerificationSession

pytestmark = pytest.mark.django_db


def days_ago(n: int) -> datetime:
    """Local noon, n days ago: well inside that day whatever the time zone."""
    day = timezone.localdate() - timedelta(days=n)
    return timezone.make_aware(datetime.combine(day, time(12)))


def session(*, status="passed", method="h5", ago=0) -> VerificationSession:
    made = new_session(method=method, external_ref=f"ref-{status}", status=status)
    VerificationSession.objects.filter(pk=made.pk).update(created_at=days_ago(ago))
    return made


def call(*, vendor="jumdata", endpoint="init", code="", billed=None, latency=0, ago=0) -> VendorCall:
    made = VendorCall.objects.create(vendor=vendor, endpoint=endpoint, vendor_code=code, billed=billed,
                                     latency_ms=latency)
    VendorCall.objects.filter(pk=made.pk).update(created_at=days_ago(ago))
    return made


def test_it_counts_sessions_per_day_by_outcome():
    for status in ("passed", "passed", "failed", "in_progress", "created"):
        session(status=status)
    session(status="error", ago=1)
    session(status="expired", ago=1)
    session(status="passed", ago=40)  # outside the window

    report = reports.sessions_per_day_by_outcome(days=30)

    assert len(report["days"]) == 30 and report["days"][-1] == timezone.localdate()
    assert list(report["series"]) == ["passed", "failed", "error", "expired", "open"]
    series = report["series"]
    assert [series[k][-1] for k in reports.OUTCOMES] == [2, 1, 0, 0, 2]
    assert [series[k][-2] for k in reports.OUTCOMES] == [0, 0, 1, 1, 0]
    assert sum(series["passed"]) == 2 and all(len(v) == 30 for v in series.values())


def test_a_one_day_window_holds_only_today():
    session(status="passed")
    session(status="passed", ago=1)
    report = reports.sessions_per_day_by_outcome(days=1)
    assert report["days"] == [timezone.localdate()] and report["series"]["passed"] == [1]


def test_it_computes_the_pass_rate_of_ended_sessions_per_method():
    for status in ("passed", "passed", "passed", "failed", "in_progress"):
        session(method="h5", status=status)
    session(method="tencent_lip", status="error")
    session(method="juhe_video", status="created")  # nothing ended: left out
    session(method="tencent_lip", status="passed", ago=31)

    assert reports.pass_rate_by_method(days=30) == [
        {"method": "h5", "ended": 4, "passed": 3, "rate": 0.75},
        {"method": "tencent_lip", "ended": 1, "passed": 0, "rate": 0.0},
    ]


def test_it_counts_billed_calls_per_day_and_vendor():
    call(vendor="jumdata", billed=True)
    call(vendor="jumdata", billed=True)
    call(vendor="jumdata", billed=False)
    call(vendor="jumdata", billed=None)
    call(vendor="tencent", billed=True, ago=1)
    call(vendor="juhe", billed=True, ago=40)

    report = reports.billed_calls_per_day_by_vendor(days=7)

    assert len(report["days"]) == 7
    assert report["series"] == {"jumdata": [0, 0, 0, 0, 0, 0, 2], "tencent": [0, 0, 0, 0, 0, 1, 0]}


def test_it_ranks_vendor_error_codes_leaving_out_each_vendors_success_codes():
    for code in ("200", "200", "201", "602", "602", "0"):  # "0" is no success at Jumdata
        call(vendor="jumdata", code=code)
    for code in ("0", "66660004", "66660004", "66660004"):
        call(vendor="tencent", code=code)
    call(vendor="juhe", code="0")
    call(vendor="juhe", code="10001")
    call(vendor="juhe", code="")  # no answer, no code
    call(vendor="tencent", code="66660004", ago=45)

    assert reports.top_vendor_error_codes(days=30) == [
        {"vendor": "tencent", "code": "66660004", "count": 3},
        {"vendor": "jumdata", "code": "602", "count": 2},
        {"vendor": "juhe", "code": "10001", "count": 1},
        {"vendor": "jumdata", "code": "0", "count": 1},
    ]
    assert [row["code"] for row in reports.top_vendor_error_codes(days=30, limit=2)] == ["66660004", "602"]


def test_it_gives_median_and_95th_percentile_latency_per_vendor_and_endpoint():
    for latency in (1000, 100, 400, 200, 300):
        call(vendor="jumdata", endpoint="init", latency=latency)
    call(vendor="jumdata", endpoint="result", latency=70)
    call(vendor="tencent", endpoint="detect", latency=50)
    call(vendor="tencent", endpoint="detect", latency=90_000, ago=60)

    # By hand, for 100 200 300 400 1000: the median is 300; the 95th
    # percentile sits at rank (5 - 1) × 0.95 = 3.8, i.e. 400 + 0.8 × 600 = 880.
    assert reports.vendor_latency(days=30) == [
        {"vendor": "jumdata", "endpoint": "init", "calls": 5, "median_ms": 300, "p95_ms": 880},
        {"vendor": "jumdata", "endpoint": "result", "calls": 1, "median_ms": 70, "p95_ms": 70},
        {"vendor": "tencent", "endpoint": "detect", "calls": 1, "median_ms": 50, "p95_ms": 50},
    ]


def test_empty_windows_give_empty_reports():
    assert reports.pass_rate_by_method() == []
    assert reports.top_vendor_error_codes() == []
    assert reports.vendor_latency() == []
    assert reports.billed_calls_per_day_by_vendor()["series"] == {}
    assert set(reports.sessions_per_day_by_outcome()["series"]["passed"]) == {0}
