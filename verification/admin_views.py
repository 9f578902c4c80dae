"""Oversight pages inside the admin: the dashboard of charts and the CSV
export of sessions and decisions. `admin_urls()` gives their URL patterns,
already behind the admin's login (`admin.site.admin_view`)."""

import csv
import logging
from datetime import date

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, Q
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from . import reports
from .audit import audit_record
from .charts import Series, horizontal_bar_chart, stacked_bar_chart
from .models import AuditEntry, Method, ReviewDecision, VerificationSession
from .vendors import juhe, jumdata, tencent

logger = logging.getLogger(__name__)

DASHBOARD_DAYS = (7, 30, 90)
OUTCOME_COLOURS = {  # Okabe–Ito; see charts.py
    "passed": "#009E73",
    "failed": "#D55E00",
    "error": "#CC79A7",
    "expired": "#E69F00",
    "open": "#56B4E9",
}
VENDOR_MODULES = {m.VENDOR: m for m in (jumdata, tencent, juhe)}


def admin_urls() -> list:
    return [
        path("verification/dashboard/", admin.site.admin_view(dashboard), name="verification_dashboard"),
        path("verification/export.csv", admin.site.admin_view(export_sessions_csv),
             name="verification_export_csv"),
    ]


# --- dashboard ----------------------------------------------------------------------------


def dashboard(request):
    if not request.user.has_perm("verification.view_verificationsession"):
        raise PermissionDenied
    try:
        days = int(request.GET.get("days", 30))
    except ValueError:
        days = 30
    days = days if days in DASHBOARD_DAYS else 30

    context = {
        **admin.site.each_context(request),
        "title": _("Oversight dashboard"),
        "days": days,
        "day_choices": DASHBOARD_DAYS,
        "charts": _charts(days),
        "can_export": request.user.has_perm("verification.export_sessions"),
    }
    return TemplateResponse(request, "admin/verification/dashboard.html", context)


def _charts(days: int) -> list[dict]:
    """Each chart with its caption and the table shown under <details>."""
    outcome_labels = {
        "passed": _("Passed"), "failed": _("Failed"), "error": _("Error"), "expired": _("Expired"),
        "open": _("Not finished"),
    }
    method_labels = dict(Method.choices)

    per_day = reports.sessions_per_day_by_outcome(days=days)
    day_labels = [date_format(day, "m-d") for day in per_day["days"]]
    outcome_series = [Series(str(outcome_labels[k]), values, OUTCOME_COLOURS[k])
                      for k, values in per_day["series"].items()]

    rates = reports.pass_rate_by_method(days=days)
    billed = reports.billed_calls_per_day_by_vendor(days=days)
    errors = reports.top_vendor_error_codes(days=days)
    latency = reports.vendor_latency(days=days)

    return [
        {
            "id": "sessions-per-day",
            "title": _("Sessions per day by outcome"),
            "caption": _("Sessions created each day, coloured by where they stand now."),
            "svg": stacked_bar_chart(
                title=_("Sessions per day by outcome"), categories=day_labels, series=outcome_series,
                x_label=_("Day"), y_label=_("Sessions"),
            ),
            "head": [_("Day")] + [s.label for s in outcome_series],
            "rows": [[label] + [s.values[i] for s in outcome_series] for i, label in enumerate(day_labels)],
        },
        {
            "id": "pass-rate",
            "title": _("Pass rate by method"),
            "caption": _("Of the sessions that ended, the share that passed."),
            "svg": horizontal_bar_chart(
                title=_("Pass rate by method"),
                rows=[(str(method_labels.get(r["method"], r["method"])), r["rate"]) for r in rates],
                x_label=_("Pass rate"), max_value=1, value_format=lambda v: f"{v:.0%}",
            ),
            "head": [_("Method"), _("Ended"), _("Passed"), _("Pass rate")],
            "rows": [
                [method_labels.get(r["method"], r["method"]), r["ended"], r["passed"], f"{r['rate']:.1%}"]
                for r in rates
            ],
        },
        {
            "id": "billed-calls",
            "title": _("Billed vendor calls per day"),
            "caption": _("Calls each vendor bills for, per day and vendor."),
            "svg": stacked_bar_chart(
                title=_("Billed vendor calls per day"),
                categories=[date_format(day, "m-d") for day in billed["days"]],
                series=[Series(vendor, values) for vendor, values in billed["series"].items()],
                x_label=_("Day"), y_label=_("Billed calls"),
            ),
            "head": [_("Day")] + list(billed["series"]),
            "rows": [[date_format(day, "m-d")] + [values[i] for values in billed["series"].values()]
                     for i, day in enumerate(billed["days"])],
        },
        {
            "id": "error-codes",
            "title": _("Top vendor error codes"),
            "caption": _("The vendor answers other than success, most frequent first."),
            "svg": horizontal_bar_chart(
                title=_("Top vendor error codes"),
                rows=[(f"{e['vendor']} {e['code']}", e["count"]) for e in errors], x_label=_("Calls"),
            ),
            "head": [_("Vendor"), _("Code"), _("Meaning"), _("Calls")],
            "rows": [[e["vendor"], e["code"], _code_meaning(e["vendor"], e["code"]), e["count"]]
                     for e in errors],
        },
        {
            "id": "latency",
            "title": _("Vendor latency"),
            "caption": _(
                "Time each vendor endpoint took to answer: median, and the 95th percentile below it."
            ),
            "svg": horizontal_bar_chart(
                title=_("Vendor latency"),
                rows=[(f"{r['vendor']} {r['endpoint']}", r["median_ms"], r["p95_ms"]) for r in latency],
                x_label=_("Milliseconds"), series_labels=[_("Median"), _("95th percentile")],
                value_format=lambda v: f"{v:,.0f}",
            ),
            "head": [_("Vendor"), _("Endpoint"), _("Calls"), _("Median (ms)"), _("95th percentile (ms)")],
            "rows": [[r["vendor"], r["endpoint"], r["calls"], f"{r['median_ms']:.0f}", f"{r['p95_ms']:.0f}"]
                     for r in latency],
        },
    ]


def _code_meaning(vendor: str, code: str) -> str:
    module = VENDOR_MODULES.get(vendor)
    return str(module.describe(code).meaning) if module else ""


# --- CSV export ---------------------------------------------------------------------------

CSV_COLUMNS = [
    "id", "created_at", "method", "status", "passed", "reason", "vendor_code", "review_status",
    "external_ref", "name", "id_number", "attempts_used", "completed_at",
    "decision", "decision_reviewer", "decision_note", "decision_at",
]
# Excel runs a cell starting with one of these as a formula (CSV injection);
# notes and references are typed by people, so such cells get a quote first.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file-like object whose write() hands the line back to csv.writer's caller."""

    def write(self, value):
        return value


@never_cache
def export_sessions_csv(request):
    """Sessions and each one's final review decision as CSV, for supervisors.
    Names and ID numbers are masked unless `include_identity=1` is asked by
    someone who may see them. Every export leaves one audit entry."""
    user = request.user
    if not user.has_perm("verification.export_sessions"):
        raise PermissionDenied
    include_identity = request.GET.get("include_identity") == "1"
    if include_identity and not user.has_perm("verification.view_full_identity"):
        raise PermissionDenied

    sessions, described_filters = _filtered_sessions(request.GET)
    if sessions is None:
        return HttpResponseBadRequest(_("Invalid filter: %(filters)s") % {"filters": described_filters})

    count = sessions.count()
    # Audited before the first row leaves: a download cut short still counts.
    detail = f"sessions csv, {count} rows, {'full identity' if include_identity else 'masked'}"
    audit_record(actor=user, action=AuditEntry.Action.EXPORT, detail=f"{detail}{described_filters}")
    logger.info("sessions csv export user=%s rows=%s identity=%s", user.pk, count, include_identity)

    response = StreamingHttpResponse(
        _csv_lines(sessions, include_identity), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="sessions-{stamp}.csv"'
    return response


def _filtered_sessions(params) -> tuple:
    """The sessions the query parameters ask for and a description of the
    filters for the audit entry; (None, what was wrong) on a bad value."""
    sessions = VerificationSession.objects.order_by("created_at")
    described = []
    status, method = params.get("status", ""), params.get("method", "")
    if status:
        if status not in VerificationSession.Status.values:
            return None, "status"
        sessions = sessions.filter(status=status)
        described.append(f"status={status}")
    if method:
        if method not in Method.values:
            return None, "method"
        sessions = sessions.filter(method=method)
        described.append(f"method={method}")
    for param, lookup in (("created_from", "created_at__date__gte"), ("created_to", "created_at__date__lte")):
        raw = params.get(param, "")
        if not raw:
            continue
        try:
            day = parse_date(raw)
        except ValueError:
            day = None
        if not isinstance(day, date):
            return None, param
        sessions = sessions.filter(**{lookup: day})
        described.append(f"{param}={day.isoformat()}")
    return sessions, "".join(f", {d}" for d in described)


def _csv_lines(sessions, include_identity: bool):
    final_decisions = Prefetch(
        "decisions",
        queryset=ReviewDecision.objects.filter(Q(needs_second_reviewer=False) | Q(confirmed_by__isnull=False))
        .select_related("reviewer")
        .order_by("created_at"),
        to_attr="final_decisions",
    )
    writer = csv.writer(_Echo())
    # The byte-order mark makes Excel read the file as UTF-8 (Chinese names).
    yield "\ufeff" + writer.writerow(CSV_COLUMNS)
    for session in sessions.prefetch_related(final_decisions).iterator(chunk_size=500):
        decision = session.final_decisions[-1] if session.final_decisions else None
        row = [
            session.pk, _when(session.created_at), session.method, session.status,
            "" if session.passed is None else str(session.passed).lower(),
            session.reason, session.vendor_code,
            session.review_status, session.external_ref,
            session.realname if include_identity else session.masked_name,
            session.idcard if include_identity else session.masked_idcard,
            session.attempts_used, _when(session.completed_at),
        ]
        if decision:
            row += [decision.decision, decision.reviewer.get_username(), decision.note,
                    _when(decision.confirmed_at or decision.created_at)]
        else:
            row += ["", "", "", ""]
        yield writer.writerow([_cell(value) for value in row])


def _when(moment) -> str:
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else ""


def _cell(value) -> str:
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text
