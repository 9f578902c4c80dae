"""The oversight dashboard inside the admin: sessions, pass rates, billed
calls, vendor errors and latency, as server-side SVG charts with a table
under each."""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .. import vendors
from ..methods import choices as method_choices
from . import reports
from .charts import Series, horizontal_bar_chart, stacked_bar_chart
from .common import age_text

logger = logging.getLogger(__name__)

DASHBOARD_DAYS = (7, 30, 90)
OUTCOME_COLOURS = {  # Okabe–Ito; see charts.py
    "passed": "#009E73",
    "failed": "#D55E00",
    "error": "#CC79A7",
    "expired": "#E69F00",
    "open": "#56B4E9",
}


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
        "review": _review_figures(days),
        "charts": _charts(days),
        "can_export": request.user.has_perm("verification.export_sessions"),
    }
    return TemplateResponse(request, "admin/verification/dashboard.html", context)


def _duration(seconds) -> str:
    return "—" if seconds is None else age_text(timedelta(seconds=seconds))


def _review_figures(days: int) -> list[dict]:
    """What a compliance lead watches, as figures above the charts."""
    queue = reports.review_queue_summary(sla_hours=settings.KYC_REVIEW_SLA_HOURS)
    decided = reports.review_decisions(days=days)
    oldest = queue["oldest_queued_at"]
    rate = decided["overturn_rate"]
    return [
        {"id": "queue-size", "label": _("Cases in the queue"), "value": queue["size"],
         "note": _("%(n)d past the SLA") % {"n": queue["overdue"]}},
        {"id": "oldest-case", "label": _("Oldest open case"),
         "value": _duration((timezone.now() - oldest).total_seconds()) if oldest else "—", "note": ""},
        {"id": "time-to-decision", "label": _("Median time to decision"),
         "value": _duration(decided["median_seconds"]),
         "note": ngettext("%(n)d decision", "%(n)d decisions", decided["count"]) % {"n": decided["count"]}},
        {"id": "overturn-rate", "label": _("Vendor verdicts overturned"),
         "value": f"{rate:.0%}" if rate is not None else "—",
         "note": ngettext("%(n)d of %(total)d decision", "%(n)d of %(total)d decisions", decided["count"])
         % {"n": decided["overturned"], "total": decided["count"]}},
    ]


def _charts(days: int) -> list[dict]:
    """Each chart with its caption and the table shown under <details>."""
    outcome_labels = {
        "passed": _("Passed"), "failed": _("Failed"), "error": _("Error"), "expired": _("Expired"),
        "open": _("Not finished"),
    }
    # An `auto` session that ended before choosing (its link expired) ran none.
    method_labels = {**dict(method_choices()), "": _("auto, no method chosen")}

    per_day = reports.sessions_per_day_by_outcome(days=days)
    day_labels = [date_format(day, "m-d") for day in per_day["days"]]
    outcome_series = [Series(str(outcome_labels[k]), values, OUTCOME_COLOURS[k])
                      for k, values in per_day["series"].items()]

    rates = reports.pass_rate_by_method(days=days)
    billed = reports.billed_calls_per_day_by_vendor(days=days)
    errors = reports.top_vendor_error_codes(days=days)
    latency = reports.vendor_latency(days=days)
    decided = reports.review_decisions(days=days)
    failures = reports.failure_reasons_by_vendor(days=days)
    vendor_names = {name: str(module.DISPLAY_NAME) for name, module in vendors.VENDORS.items()}
    failure_series = [Series(vendor_names.get(vendor, vendor), values) for vendor, values in failures["series"].items()]

    return [
        {
            "id": "decisions-per-reviewer",
            "title": _("Decisions per reviewer"),
            "caption": _("Final decisions in the period; a four-eyes confirmation counts for both reviewers."),
            "svg": horizontal_bar_chart(
                title=_("Decisions per reviewer"), rows=[(name, n) for name, n in decided["per_reviewer"]],
                x_label=_("Decisions"),
            ),
            "head": [_("Reviewer"), _("Decisions")],
            "rows": [[name, n] for name, n in decided["per_reviewer"]],
        },
        {
            "id": "failure-reasons",
            "title": _("Top failure reasons by vendor"),
            "caption": _("Sessions that failed or ended in error, by the portal's reason, so vendors compare on the "
                         "same terms."),
            "svg": stacked_bar_chart(
                title=_("Top failure reasons by vendor"), categories=failures["reasons"], series=failure_series,
                x_label=_("Reason"), y_label=_("Sessions"),
            ),
            "head": [_("Reason")] + [s.label for s in failure_series],
            "rows": [[reason] + [s.values[i] for s in failure_series] for i, reason in enumerate(failures["reasons"])],
        },
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
    known = vendors.describe(vendor, code)
    return str(known.meaning) if known is not None else ""
