"""The review queue and the session page: every piece of evidence, the
decisions (with the four-eyes rule), the audited identity page and the
erasure of personal data."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, When
from django.http import HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from .. import vendors
from ..domain.errors import InvalidInput
from ..models import AuditEntry, ReviewDecision, VerificationSession
from ..platform.idcard import looks_like_idcard
from ..services import retention, review
from .common import ReadOnlyAdminMixin
from .media import session_media_view


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=ReviewDecision.Decision.choices, label=_("Decision"))
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label=_("Note"))


class VendorCodeFilter(admin.SimpleListFilter):
    title = _("vendor code")
    parameter_name = "vendor_code"

    def lookups(self, request, model_admin):
        codes = VerificationSession.objects.exclude(vendor_code="").values_list("vendor_code", flat=True).distinct()
        return [(code, code) for code in sorted(codes)[:50]]

    def queryset(self, request, queryset):
        return queryset.filter(vendor_code=self.value()) if self.value() else queryset


@admin.register(VerificationSession)
class VerificationSessionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at", "method", "status", "review_status", "score_summary", "attempts_used", "external_ref",
        "masked_name", "masked_idcard", "needs_review",
    ]
    list_display_links = ["created_at", "external_ref"]
    list_filter = [
        "review_status", "status", "method", "method_requested", VendorCodeFilter, "needs_review", ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["=external_ref", "=vendor_order_no", "=vendor_task_no"]
    search_help_text = _(
        "External reference, vendor order or task number; or an exact ID number, for staff who may see "
        "identities (limited and audited)."
    )
    date_hierarchy = "created_at"
    list_per_page = 50
    actions = ["erase_personal_data"]
    # Never the name, the ID number, the link token or the vendor token.
    fields = [
        "id", "client", "method", "method_requested", "route", "device_facts", "external_ref", "status", "review_status", "masked_name", "masked_idcard",
        "passed", "reason", "outcome_vendor", "vendor_code", "retryable", "needs_review", "attempts_used",
        "max_attempts", "created_at", "completed_at", "expires_at", "locale", "options", "return_url",
        "vendor_task_no", "vendor_order_no", "consent_at", "consent_ip", "consent_user_agent", "consent_version",
        "challenge_kind", "challenge_value",
    ]
    readonly_fields = fields
    change_form_template = "admin/verification/verificationsession/evidence.html"

    def get_ordering(self, request):
        # The queue: sessions awaiting review first, oldest first.
        pending_first = Case(When(review_status="pending", then=0), default=1, output_field=IntegerField())
        return [pending_first.asc(), "created_at"]

    def changelist_view(self, request, extra_context=None):
        # Decided once per request, before the changelist's queries, which may
        # search more than once (actions, facets): each search by ID number
        # counts against a limit and leaves an audit entry.
        request.sessions_found_by_idcard = self.find_by_idcard(request)
        return super().changelist_view(request, extra_context)

    def find_by_idcard(self, request):
        """The sessions holding the ID number searched for, or None when the
        search term is no ID number or the search was refused (and the
        staff member is told why)."""
        term = request.GET.get(SEARCH_VAR, "")
        if not looks_like_idcard(term):
            return None
        try:
            return review.sessions_find_by_idcard(actor=request.user, idcard=term)
        except review.IdcardSearchRefused as refused:
            messages.error(request, refused.message)
            return None

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        found = getattr(request, "sessions_found_by_idcard", None)
        if found is None:
            return results, may_have_duplicates
        return results | (queryset & found), may_have_duplicates

    def get_preserved_filters(self, request):
        """The list's filters, carried into the session page's links, without
        an ID number searched for: it would sit in that page's address, in
        the browser's history and in the Referer of every request it makes."""
        preserved = super().get_preserved_filters(request)
        if not preserved:
            return preserved
        filters = QueryDict(QueryDict(preserved)["_changelist_filters"], mutable=True)
        if looks_like_idcard(filters.get(SEARCH_VAR, "")):
            del filters[SEARCH_VAR]
        return urlencode({"_changelist_filters": filters.urlencode()}) if filters else ""

    @admin.display(description=_("name"))
    def masked_name(self, obj):
        return obj.masked_name

    @admin.display(description=_("ID number"))
    def masked_idcard(self, obj):
        return obj.masked_idcard

    @admin.display(description=_("route taken"))
    def route(self, obj):
        """The methods run, in order; for `auto`, those passed over for the
        person's device, and why."""
        taken = " → ".join(obj.route_taken) or "—"
        passed_over = obj.device_facts.get("passed_over") or {}
        skipped = ", ".join(f"{name} ({why})" for name, why in passed_over.items() if why)
        return _("%(taken)s; passed over: %(skipped)s") % {"taken": taken, "skipped": skipped} if skipped else taken

    @admin.display(description=_("scores"))
    def score_summary(self, obj):
        shown = {k: v for k, v in obj.scores.items() if not k.endswith("_threshold") and isinstance(v, (int, float))}
        return ", ".join(f"{k} {v}" for k, v in shown.items()) or "—"

    def get_urls(self):
        return [
            path("<uuid:session_id>/decide/", self.admin_site.admin_view(self.decide_view), name="verification_decide"),
            path("<uuid:session_id>/confirm/<int:decision_id>/", self.admin_site.admin_view(self.confirm_view),
                 name="verification_confirm"),
            path("<uuid:session_id>/identity/", self.admin_site.admin_view(self.identity_view),
                 name="verification_identity"),
            path("<uuid:session_id>/media/<str:kind>/", self.admin_site.admin_view(session_media_view),
                 name="verification_session_media"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        session = self.get_object(request, object_id)
        if session is None or not self.has_view_permission(request, session):
            return super().change_view(request, object_id, form_url, extra_context)
        AuditEntry.record(actor=request.user, action=AuditEntry.Action.VIEW_SESSION, session=session)
        context = {**(extra_context or {}), **self.evidence(request, session)}
        return super().change_view(request, object_id, form_url, context)

    def evidence(self, request, session) -> dict:
        user = request.user
        can_media = user.has_perm("verification.view_media")
        submissions = list(session.submissions.order_by("attempt"))
        media_url = lambda kind, public_id: reverse("admin:verification_media", args=[kind, public_id])  # noqa: E731
        calls = []
        for call in session.vendor_calls.order_by("created_at"):
            known = vendors.describe(call.vendor, call.vendor_code) if call.vendor_code else None
            meaning = known.meaning if known is not None else ""
            calls.append({"call": call, "meaning": meaning})
        return {
            "session": session,
            "can_media": can_media,
            "can_review": user.has_perm("verification.review_session"),
            "can_identity": user.has_perm("verification.view_full_identity"),
            "attempts": [
                {
                    "submission": s,
                    "original_url": media_url("original", s.public_id) if can_media and s.original else "",
                    "normalised_url": media_url("normalised", s.public_id) if can_media and s.normalised else "",
                }
                for s in submissions
            ],
            "images": [
                {"image": i, "url": media_url("image", i.public_id) if can_media else ""} for i in session.images.all()
            ],
            "face_url": reverse("admin:verification_session_media", args=[session.pk, "face"])
            if can_media and session.face_image else "",
            "reference_url": reverse("admin:verification_session_media", args=[session.pk, "reference"])
            if can_media and session.reference_photo else "",
            "scores": _scores_against_thresholds(session.scores),
            "calls": calls,
            "decisions": session.decisions.select_related("reviewer", "confirmed_by"),
            "decision_form": DecisionForm(),
            "identity_url": reverse("admin:verification_identity", args=[session.pk]),
            "decide_url": reverse("admin:verification_decide", args=[session.pk]),
        }

    def decide_view(self, request, session_id):
        if request.method != "POST" or not request.user.has_perm("verification.review_session"):
            raise PermissionDenied
        session = get_object_or_404(VerificationSession, pk=session_id)
        form = DecisionForm(request.POST)
        page = reverse("admin:verification_verificationsession_change", args=[session.pk])
        if not form.is_valid():
            messages.error(request, _("Choose a decision and write a note."))
            return HttpResponseRedirect(page)
        try:
            made = review.session_decide(session=session, reviewer=request.user, **form.cleaned_data)
        except InvalidInput as invalid:
            messages.error(request, "; ".join(invalid.fields.values()))
            return HttpResponseRedirect(page)
        if made.needs_second_reviewer:
            messages.warning(request, _("Recorded. A second reviewer must confirm this decision."))
        else:
            messages.success(request, _("Decision recorded."))
        return HttpResponseRedirect(page)

    def confirm_view(self, request, session_id, decision_id):
        if request.method != "POST" or not request.user.has_perm("verification.review_session"):
            raise PermissionDenied
        decision = get_object_or_404(ReviewDecision, pk=decision_id, session_id=session_id)
        try:
            review.decision_confirm(decision=decision, reviewer=request.user)
            messages.success(request, _("Decision confirmed."))
        except InvalidInput as invalid:
            messages.error(request, "; ".join(invalid.fields.values()))
        return HttpResponseRedirect(reverse("admin:verification_verificationsession_change", args=[session_id]))

    def identity_view(self, request, session_id):
        """The full name and ID number, for supervisors only, audited."""
        if not request.user.has_perm("verification.view_full_identity"):
            raise PermissionDenied
        session = get_object_or_404(VerificationSession, pk=session_id)
        AuditEntry.record(actor=request.user, action=AuditEntry.Action.VIEW_IDENTITY, session=session)
        context = {**self.admin_site.each_context(request), "session": session, "title": _("Identity")}
        response = TemplateResponse(request, "admin/verification/verificationsession/identity.html", context)
        response["Cache-Control"] = "no-store, private"
        return response

    @admin.action(description=_("Erase personal data now (right to erasure)"), permissions=["purge"])
    def erase_personal_data(self, request, queryset):
        for session in queryset:
            retention.session_erase(session=session, actor=request.user)
        messages.success(request, _("Personal data erased for %(count)d session(s).") % {"count": queryset.count()})

    def has_purge_permission(self, request):
        return request.user.has_perm("verification.purge_sessions")


def _scores_against_thresholds(scores: dict) -> list[dict]:
    rows = []
    for key, value in scores.items():
        if key.endswith("_threshold") or not isinstance(value, (int, float)):
            continue
        threshold = scores.get(f"{key}_threshold")
        rows.append({"name": key, "value": value, "threshold": threshold,
                     "meets": None if threshold is None else value >= threshold})
    return rows
