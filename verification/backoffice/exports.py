"""The CSV export of sessions and their final decisions, for supervisors:
masked unless full identities are asked for by someone allowed to see them;
every export audited before its first row leaves."""

import csv
import logging
from datetime import date

from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, Q
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from ..methods import REGISTRY
from ..models import AuditEntry, ReviewDecision, VerificationSession

logger = logging.getLogger(__name__)

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
    AuditEntry.record(actor=user, action=AuditEntry.Action.EXPORT, detail=f"{detail}{described_filters}")
    logger.info("sessions csv export user=%s rows=%s identity=%s", user.pk, count, include_identity)

    response = StreamingHttpResponse(
        _csv_lines(sessions, include_identity), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{export_file_name(include_identity)}"'
    return response


def export_file_name(include_identity: bool, *, now=None) -> str:
    """The two exports, told apart by name and dated: what is in the file
    (masked or full identity) is plain before anyone opens it."""
    kind = "full-identity" if include_identity else "masked"
    return f"kyc-sessions-{kind}-{timezone.localtime(now).strftime('%Y-%m-%d-%H%M')}.csv"


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
        if method not in REGISTRY:
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
