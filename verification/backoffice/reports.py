"""Read-side queries for the oversight dashboard. Each returns plain data
(lists and dicts of strings, numbers and dates) that a chart can draw.

Windows are whole days in the portal's time zone: `days=30` is today and the
29 days before it. Per-day series have one entry for every day of the window,
zero where nothing happened, so the charts' axes do not skip days."""

import logging
import math
from collections import Counter
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from .. import vendors
from ..models import VendorCall, VerificationSession

logger = logging.getLogger(__name__)

Status = VerificationSession.Status

# Outcome series, in the order they are stacked. Sessions that have not
# ended yet (created, in progress, processing) count as "open".
OUTCOMES = ("passed", "failed", "error", "expired", "open")
OPEN_STATUSES = {Status.CREATED, Status.IN_PROGRESS, Status.PROCESSING}


def window_days(*, days: int) -> list[date]:
    """The window's days, oldest first, ending today (local time)."""
    today = timezone.localdate()
    return [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def window_start(*, days: int) -> datetime:
    """Local midnight at the start of the window's first day."""
    first = timezone.localdate() - timedelta(days=days - 1)
    return timezone.make_aware(datetime.combine(first, time.min))


def sessions_per_day_by_outcome(*, days: int = 30) -> dict:
    """Sessions created each day, by where they stand now.

    `{"days": [date, ...], "series": {"passed": [n, ...], ..., "open": [...]}}`"""
    rows = (
        VerificationSession.objects.filter(created_at__gte=window_start(days=days))
        .annotate(day=TruncDate("created_at"))
        .values_list("day", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts: Counter = Counter()
    for day, status, n in rows:
        counts[day, "open" if status in OPEN_STATUSES else status] += n
    axis = window_days(days=days)
    return {"days": axis, "series": {outcome: [counts[day, outcome] for day in axis] for outcome in OUTCOMES}}


def pass_rate_by_method(*, days: int = 30) -> list[dict]:
    """Of the window's sessions that ended, the share that passed, per method.

    `[{"method": "h5", "ended": 10, "passed": 7, "rate": 0.7}, ...]`, methods
    with no ended session left out."""
    rows = (
        VerificationSession.objects.filter(created_at__gte=window_start(days=days))
        .exclude(status__in=OPEN_STATUSES)
        .values("method")
        .annotate(ended=Count("pk"), passed=Count("pk", filter=Q(status=Status.PASSED)))
        .order_by("method")
    )
    return [
        {"method": row["method"], "ended": row["ended"], "passed": row["passed"],
         "rate": row["passed"] / row["ended"]}
        for row in rows
    ]


def billed_calls_per_day_by_vendor(*, days: int = 30) -> dict:
    """Vendor calls the vendor bills for, per day and vendor.

    `{"days": [date, ...], "series": {"jumdata": [n, ...], ...}}`, vendors in
    alphabetical order, only those with a billed call in the window."""
    rows = (
        VendorCall.objects.filter(created_at__gte=window_start(days=days), billed=True)
        .annotate(day=TruncDate("created_at"))
        .values_list("day", "vendor")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts = {(day, vendor): n for day, vendor, n in rows}
    vendors = sorted({vendor for _day, vendor in counts})
    axis = window_days(days=days)
    return {"days": axis, "series": {v: [counts.get((day, v), 0) for day in axis] for v in vendors}}


def top_vendor_error_codes(*, days: int = 30, limit: int = 10) -> list[dict]:
    """The most frequent non-success vendor codes, most frequent first.

    `[{"vendor": "tencent", "code": "66660004", "count": 3}, ...]`. Calls
    with no code (no answer at all) are not counted: they have no code."""
    success = Q()
    for name, vendor in vendors.VENDORS.items():
        success |= Q(vendor=name, vendor_code__in=vendor.SUCCESS_CODES)
    rows = (
        VendorCall.objects.filter(created_at__gte=window_start(days=days))
        .exclude(vendor_code="")
        .exclude(success)
        .values("vendor", "vendor_code")
        .annotate(count=Count("pk"))
        .order_by("-count", "vendor", "vendor_code")[:limit]
    )
    return [{"vendor": row["vendor"], "code": row["vendor_code"], "count": row["count"]} for row in rows]


def percentile(ordered: list[int | float], q: float) -> float:
    """The q-th percentile (0–100) of an ascending list, interpolating
    linearly between the two nearest ranks (as numpy's default does)."""
    if not ordered:
        raise ValueError("percentile of no values")
    position = (len(ordered) - 1) * q / 100
    below, above = math.floor(position), math.ceil(position)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def vendor_latency(*, days: int = 30) -> list[dict]:
    """Median and 95th percentile of call latency per vendor and endpoint.

    `[{"vendor": "jumdata", "endpoint": "init", "calls": 12, "median_ms": 240.0,
    "p95_ms": 810.5}, ...]`, milliseconds to one decimal. Computed here rather than in SQL so SQLite and
    PostgreSQL agree. The database sorts; rows are streamed and only one
    endpoint's latencies are held at a time."""
    rows = (
        VendorCall.objects.filter(created_at__gte=window_start(days=days))
        .order_by("vendor", "endpoint", "latency_ms")
        .values_list("vendor", "endpoint", "latency_ms")
        .iterator(chunk_size=2000)
    )
    result: list[dict] = []
    group: tuple[str, str] | None = None
    latencies: list[int] = []

    def close_group():
        if group is not None:
            result.append({"vendor": group[0], "endpoint": group[1], "calls": len(latencies),
                           "median_ms": round(percentile(latencies, 50), 1),
                           "p95_ms": round(percentile(latencies, 95), 1)})

    for vendor, endpoint, latency in rows:
        if (vendor, endpoint) != group:
            close_group()
            group, latencies = (vendor, endpoint), []
        latencies.append(latency)
    close_group()
    return result


# --- the review queue and reviewers' work ----------------------------------------------------


def review_queue_summary(*, now=None, sla_hours: int = 24) -> dict:
    """What waits for a human now: `{"size", "oldest_queued_at", "overdue"}`."""
    now = now or timezone.now()
    queued = VerificationSession.objects.filter(review_status=VerificationSession.ReviewStatus.NEEDS_REVIEW)
    oldest = queued.exclude(queued_at=None).order_by("queued_at").values_list("queued_at", flat=True).first()
    return {"size": queued.count(), "oldest_queued_at": oldest,
            "overdue": queued.filter(queued_at__lte=now - timedelta(hours=sla_hours)).count()}


def review_decisions(*, days: int = 30) -> dict:
    """Final approve/reject decisions made in the window (a four-eyes one
    counts when confirmed): `{"count", "median_seconds"` (from entering the
    queue to the final decision), `"per_reviewer": [(username, n), ...]`
    (who made each decision, confirmations to the confirmer as well),
    `"overturned"` (a reviewer approved what the vendor failed, or rejected
    what it passed) and `"overturn_rate"` (None with no decision)}."""
    from ..models import ReviewDecision

    start = window_start(days=days)
    rows = (
        ReviewDecision.objects.filter(decision__in=["approve", "reject"])
        .filter(Q(needs_second_reviewer=False, created_at__gte=start) | Q(confirmed_at__gte=start))
        .values_list("decision", "created_at", "confirmed_at", "needs_second_reviewer", "reviewer__username",
                     "confirmed_by__username", "session__passed", "session__queued_at", "session__completed_at")
    )
    waits, per_reviewer, overturned, count = [], Counter(), 0, 0
    for decision, made, confirmed, four_eyes, reviewer, confirmer, passed, queued, completed in rows:
        final_at = confirmed if four_eyes else made
        if final_at is None:
            continue
        count += 1
        per_reviewer[reviewer] += 1
        if confirmer:
            per_reviewer[confirmer] += 1
        entered = queued or completed
        if entered is not None:
            waits.append(max((final_at - entered).total_seconds(), 0))
        if (decision == "approve" and passed is False) or (decision == "reject" and passed is True):
            overturned += 1
    waits.sort()
    return {
        "count": count,
        "median_seconds": percentile(waits, 50) if waits else None,
        "per_reviewer": sorted(per_reviewer.items(), key=lambda item: (-item[1], item[0])),
        "overturned": overturned,
        "overturn_rate": overturned / count if count else None,
    }


# Reasons that say the same thing in one vendor's words: Jumdata's 202
# ("not_passed") is the liveness failure every other vendor's answer calls "not_live".
SAME_REASON = {"not_passed": "not_live"}


def normalised_reason(reason: str, vendor: str, code: str) -> str:
    """The portal's word for a failure, whoever's answer it was. Juhe's
    videoAuth ends some failures on a code of its own (`vendor_code`): one
    a better recording may pass is what the others call `not_live` (Tencent's
    "no face found" is a `not_live` too); any other, `vendor_rejected`."""
    if reason == "vendor_code":
        known = vendors.describe(vendor, code)
        return "not_live" if known is not None and known.user_fixable else "vendor_rejected"
    return SAME_REASON.get(reason, reason) or "unknown"


def failure_reasons_by_vendor(*, days: int = 30, limit: int = 8) -> dict:
    """Sessions of the window that failed or ended in error, by the portal's
    normalised reason (the same words for every vendor) and the vendor whose
    answer decided: `{"reasons": [reason, ...] (most frequent first),
    "series": {vendor: [n per reason]}}`."""
    rows = (
        VerificationSession.objects.filter(created_at__gte=window_start(days=days),
                                           status__in=[Status.FAILED, Status.ERROR])
        .values_list("reason", "outcome_vendor", "vendor_code")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts: Counter = Counter()
    totals: Counter = Counter()
    for reason, vendor, code, n in rows:
        reason = normalised_reason(reason, vendor, code)
        counts[reason, vendor or "—"] += n
        totals[reason] += n
    reasons = [reason for reason, _n in sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:limit]]
    vendors_seen = sorted({vendor for _reason, vendor in counts})
    return {"reasons": reasons,
            "series": {vendor: [counts[reason, vendor] for reason in reasons] for vendor in vendors_seen}}
