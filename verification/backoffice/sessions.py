"""The review queue and the session page: every piece of evidence, the
decisions (with the four-eyes rule), the audited identity page and the
erasure of personal data."""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import SEARCH_VAR
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Case, F, IntegerField, Q, When
from django.http import HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from .. import methods, vendors
from ..domain import review_policy
from ..domain.errors import InvalidInput
from ..models import AuditEntry, ReviewDecision, VerificationSession
from ..platform.idcard import looks_like_idcard
from ..services import retention, review
from .common import ReadOnlyAdminMixin, age_text
from .media import case_view_token, session_media_view


class DecisionForm(forms.Form):
    # Radio buttons with none chosen: the reviewer picks, nothing is preselected.
    decision = forms.ChoiceField(choices=ReviewDecision.Decision.choices, label=_("Decision"),
                                 widget=forms.RadioSelect)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label=_("Note"))


class NoteForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label=_("Note"))


def sla() -> timedelta:
    return timedelta(hours=settings.KYC_REVIEW_SLA_HOURS)


class ReviewStatusFilter(admin.SimpleListFilter):
    """The queue opens on the cases that need a human (the changelist without
    any parameter goes there); a search or another filter alone looks at
    every session; "All" says so."""

    title = _("review status")
    parameter_name = "review_status__exact"
    ALL = "all"

    def lookups(self, request, model_admin):
        return [*VerificationSession.ReviewStatus.choices, (self.ALL, _("All"))]

    def value(self):
        return super().value() or self.ALL

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {"selected": self.value() == str(lookup), "display": title,
                   "query_string": changelist.get_query_string({self.parameter_name: lookup})}

    def queryset(self, request, queryset):
        return queryset if self.value() == self.ALL else queryset.filter(review_status=self.value())


class ReasonFilter(admin.SimpleListFilter):
    title = _("review reason")
    parameter_name = "reason"

    def lookups(self, request, model_admin):
        return list(review_policy.REASON_LABELS.items())

    def queryset(self, request, queryset):
        # Matched on the JSON text (works on SQLite and PostgreSQL alike).
        return queryset.filter(review_reasons__icontains=f'"{self.value()}"') if self.value() else queryset


class MethodFilter(admin.SimpleListFilter):
    title = _("method")
    parameter_name = "method__exact"

    def lookups(self, request, model_admin):
        return methods.choices()

    def queryset(self, request, queryset):
        return queryset.filter(method=self.value()) if self.value() else queryset


class VendorFilter(admin.SimpleListFilter):
    title = _("vendor")
    parameter_name = "vendor"

    def lookups(self, request, model_admin):
        return [(name, module.DISPLAY_NAME) for name, module in vendors.VENDORS.items()]

    def queryset(self, request, queryset):
        return queryset.filter(outcome_vendor=self.value()) if self.value() else queryset


class AgeFilter(admin.SimpleListFilter):
    """How long a case has waited in the queue, against the SLA."""

    title = _("age")
    parameter_name = "age"

    def lookups(self, request, model_admin):
        return [("new", _("Under 4 hours")), ("today", _("Within the SLA")), ("overdue", _("Past the SLA")),
                ("week", _("Over 7 days"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        since = {"new": ("gt", now - timedelta(hours=4)), "today": ("gt", now - sla()),
                 "overdue": ("lte", now - sla()), "week": ("lte", now - timedelta(days=7))}.get(self.value())
        if since is None:
            return queryset
        op, at = since
        return queryset.filter(**{f"queued_at__{op}": at})


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
    # Seven narrow columns beside the filters: a 1366 px screen, no sideways scrolling.
    list_display = ["queue_age", "external_ref", "method_label", "outcome", "reasons", "holder", "masked_name"]
    list_display_links = ["external_ref"]
    list_filter = [
        ReviewStatusFilter, ReasonFilter, MethodFilter, "method_requested", VendorFilter,
        ("client", admin.RelatedOnlyFieldListFilter), AgeFilter, "status", VendorCodeFilter,
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
    change_list_template = "admin/verification/verificationsession/change_list.html"
    # The case page's evidence, in order: one template each, given the page's
    # context. Another section is one more template named here.
    evidence_sections = [f"admin/verification/verificationsession/evidence/{name}.html"
                         for name in ("outcome", "scores", "faces", "attempts", "capture", "vendor_codes")]

    def get_ordering(self, request):
        # The queue: cases needing review first, the longest waiting first.
        queued_first = Case(When(review_status="needs_review", then=0), default=1, output_field=IntegerField())
        return [queued_first.asc(), F("queued_at").asc(nulls_last=True), "created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("claimed_by", "client")

    @admin.display(description=_("waiting"), ordering="queued_at")
    def queue_age(self, obj):
        since = obj.queued_at or obj.created_at
        waited = timezone.now() - since
        if obj.review_status != obj.ReviewStatus.NEEDS_REVIEW:
            return format_html('<span title="{}">{}</span>', since.isoformat(timespec="minutes"),
                               obj.created_at.strftime("%Y-%m-%d %H:%M"))
        overdue = waited >= sla()
        return format_html('<span class="age{}" title="{}">{}{}</span>', " overdue" if overdue else "",
                           since.isoformat(timespec="minutes"), age_text(waited),
                           format_html(' <strong class="sla">{}</strong>', _("SLA")) if overdue else "")

    @admin.display(description=_("method"), ordering="method")
    def method_label(self, obj):
        method = methods.REGISTRY.get(obj.method)
        return method.label if method else obj.method

    @admin.display(description=_("outcome"), ordering="status")
    def outcome(self, obj):
        code = f" · {obj.outcome_vendor} {obj.vendor_code}" if obj.vendor_code else ""
        return format_html('<span class="status-{}">{}</span><small>{}</small>', obj.status,
                           obj.get_status_display(), code)

    @admin.display(description=_("reasons"))
    def reasons(self, obj):
        return format_html_join("", '<span class="reason-tag">{}</span>',
                                ((review_policy.reason_label(r),) for r in obj.review_reasons)) or "—"

    @admin.display(description=_("claimed by"), ordering="claimed_by__username")
    def holder(self, obj):
        if obj.claimed_by is None or obj.claim_lapsed(timezone.now(), review.claim_idle()):
            return "—"
        return obj.claimed_by.get_username()

    def changelist_view(self, request, extra_context=None):
        if not request.GET and request.method == "GET":
            # The queue opens on the cases that need a human.
            return HttpResponseRedirect(f"{request.path}?{ReviewStatusFilter.parameter_name}="
                                        f"{VerificationSession.ReviewStatus.NEEDS_REVIEW}")
        # Decided once per request, before the changelist's queries, which may
        # search more than once (actions, facets): each search by ID number
        # counts against a limit and leaves an audit entry.
        request.sessions_found_by_idcard = self.find_by_idcard(request)
        # The queue needs the screen's width: no navigation sidebar beside it.
        return super().changelist_view(request, {"is_nav_sidebar_enabled": False, **(extra_context or {})})

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
        view = self.admin_site.admin_view
        return [
            path("next/", view(self.next_case_view), name="verification_next_case"),
            path("<uuid:session_id>/claim/", view(self.claim_view), name="verification_claim"),
            path("<uuid:session_id>/release/", view(self.release_view), name="verification_release"),
            path("<uuid:session_id>/reassign/", view(self.reassign_view), name="verification_reassign"),
            path("<uuid:session_id>/note/", view(self.note_view), name="verification_note"),
            path("<uuid:session_id>/erase/", view(self.erase_view), name="verification_erase"),
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
        evidence = self.evidence(request, session)
        # One entry per view of the case, naming the media it shows.
        shown = ", ".join(evidence["media_shown"]) or "no media"
        AuditEntry.record(actor=request.user, action=AuditEntry.Action.VIEW_SESSION, session=session,
                          detail=f"shown: {shown}")
        if session.claimed_by_id == request.user.pk:
            session.take_claim(request.user, now=timezone.now(), idle=review.claim_idle())  # still working on it
        context = {"is_nav_sidebar_enabled": False, **(extra_context or {}), **evidence}
        return super().change_view(request, object_id, form_url, context)

    def evidence(self, request, session):
        """What the case page shows, evidence first: the outcome and why it
        needs review, scores against thresholds, faces, attempts with their
        challenges, vendor codes with their meaning; then the decision; then
        one timeline."""
        user = request.user
        can_media = user.has_perm("verification.view_media")
        submissions = list(session.submissions.order_by("attempt", "created_at"))
        signed = "?" + urlencode({"case_view": case_view_token(user=user, session=session)})
        media_url = lambda kind, public_id: reverse("admin:verification_media", args=[kind, public_id]) + signed  # noqa: E731
        media_shown = []
        calls = []
        for call in session.vendor_calls.order_by("created_at", "pk"):
            known = vendors.describe(call.vendor, call.vendor_code) if call.vendor_code else None
            meaning = known.meaning if known is not None else ""
            words = vendors.vendor_words(call.vendor, call.response_summary)
            calls.append({"call": call, "meaning": meaning, "words": words if words != meaning else "",
                          "explained": known.message if known is not None else "",
                          "success": call.vendor_code in getattr(vendors.VENDORS.get(call.vendor), "SUCCESS_CODES", ())})
        faces = []
        if can_media and session.face_image:
            faces.append({"label": _("Face kept for the session"), "url": reverse(
                "admin:verification_session_media", args=[session.pk, "face"]) + signed})
            media_shown.append("face")
        if can_media and session.reference_photo:
            faces.append({"label": _("Reference photo"), "url": reverse(
                "admin:verification_session_media", args=[session.pk, "reference"]) + signed})
            media_shown.append("reference")
        for image in session.images.order_by("attempt", "created_at"):
            if can_media:
                faces.append({"label": f"{image.get_kind_display()} · #{image.attempt}",
                              "url": media_url("image", image.public_id)})
                media_shown.append(f"{image.kind}#{image.attempt}")
        attempts = []
        for s in submissions:
            original = media_url("original", s.public_id) if can_media and s.original else ""
            normalised = media_url("normalised", s.public_id) if can_media and s.normalised else ""
            media_shown += [f"{kind}#{s.attempt}" for kind, url in (("original", original),
                                                                     ("normalised", normalised)) if url]
            attempts.append({"submission": s, "original_url": original, "normalised_url": normalised})
        waiting = session.decisions.filter(needs_second_reviewer=True, confirmed_by=None).first()
        now = timezone.now()
        holder = None if session.claim_lapsed(now, review.claim_idle()) else session.claimed_by
        can_review = user.has_perm("verification.review_session")
        return {
            "session": session,
            "evidence_sections": self.evidence_sections,
            "can_media": can_media,
            "can_review": can_review,
            "can_identity": user.has_perm("verification.view_full_identity"),
            "can_reassign": user.has_perm("verification.reassign_case"),
            "can_purge": user.has_perm("verification.purge_sessions"),
            "reasons": [{"code": r, "label": review_policy.reason_label(r)} for r in session.review_reasons],
            "faces": faces,
            "attempts": attempts,
            "media_shown": media_shown,
            "scores": scores_against_thresholds(session.scores),
            "calls": calls,
            "outcome_meaning": _outcome_meaning(session),
            "decisions": session.decisions.select_related("reviewer", "confirmed_by"),
            "waiting_decision": waiting,
            "may_decide": can_review and session.status in session.OUTCOME_STATUSES
            and session.review_status == session.ReviewStatus.NEEDS_REVIEW and waiting is None
            and (holder is None or holder.pk == user.pk),
            "has_outcome": session.status in session.OUTCOME_STATUSES,
            "holder": holder,
            "is_mine": holder is not None and holder.pk == user.pk,
            "reviewers": get_user_model().objects.filter(
                Q(groups__permissions__codename="review_session") | Q(is_superuser=True), is_active=True,
            ).distinct().order_by("username") if user.has_perm("verification.reassign_case") else [],
            "decision_form": DecisionForm(),
            "note_form": NoteForm(),
            "timeline": timeline(session),
            "identity_url": reverse("admin:verification_identity", args=[session.pk]),
            "decide_url": reverse("admin:verification_decide", args=[session.pk]),
        }

    def _case_page(self, session_id, anchor=""):
        return HttpResponseRedirect(reverse("admin:verification_verificationsession_change", args=[session_id])
                                    + anchor)

    def _reviewer_post(self, request, session_id):
        if request.method != "POST" or not request.user.has_perm("verification.review_session"):
            raise PermissionDenied
        return get_object_or_404(VerificationSession.objects.select_related("claimed_by"), pk=session_id)

    def next_case_view(self, request):
        if request.method != "POST" or not request.user.has_perm("verification.review_session"):
            raise PermissionDenied
        session = review.case_next(reviewer=request.user)
        if session is None:
            messages.info(request, _("No case is waiting for you: the queue is empty or every case is taken."))
            return HttpResponseRedirect(reverse("admin:verification_verificationsession_changelist"))
        return self._case_page(session.pk)

    def claim_view(self, request, session_id):
        session = self._reviewer_post(request, session_id)
        try:
            review.case_claim(session=session, reviewer=request.user)
            messages.success(request, _("The case is yours."))
        except InvalidInput as invalid:
            messages.error(request, "; ".join(str(v) for v in invalid.fields.values()))
        return self._case_page(session_id)

    def release_view(self, request, session_id):
        session = self._reviewer_post(request, session_id)
        review.case_release(session=session, reviewer=request.user)
        messages.success(request, _("The case is back in the queue."))
        return HttpResponseRedirect(reverse("admin:verification_verificationsession_changelist"))

    def reassign_view(self, request, session_id):
        session = self._reviewer_post(request, session_id)
        to = get_user_model().objects.filter(pk=request.POST.get("reviewer") or None).first()
        if to is None:
            messages.error(request, _("Choose a reviewer."))
            return self._case_page(session_id, "#decision")
        try:
            review.case_reassign(session=session, actor=request.user, to=to)
            messages.success(request, _("The case now belongs to %(user)s.") % {"user": to.get_username()})
        except InvalidInput as invalid:
            messages.error(request, "; ".join(str(v) for v in invalid.fields.values()))
        return self._case_page(session_id, "#decision")

    def note_view(self, request, session_id):
        session = self._reviewer_post(request, session_id)
        form = NoteForm(request.POST)
        if form.is_valid():
            review.case_note(session=session, author=request.user, text=form.cleaned_data["note"])
            messages.success(request, _("Note added."))
        else:
            messages.error(request, _("Write the note first."))
        return self._case_page(session_id, "#decision")

    def decide_view(self, request, session_id):
        if request.method != "POST" or not request.user.has_perm("verification.review_session"):
            raise PermissionDenied
        session = get_object_or_404(VerificationSession, pk=session_id)
        form = DecisionForm(request.POST)
        # The answer appears where the reviewer is looking: at the decision.
        page = reverse("admin:verification_verificationsession_change", args=[session.pk]) + "#decision"
        if not form.is_valid():
            messages.error(request, _("Choose a decision and write a note."))
            return HttpResponseRedirect(page)
        try:
            made = review.session_decide(session=session, reviewer=request.user, **form.cleaned_data)
        except InvalidInput as invalid:
            messages.error(request, "; ".join(str(v) for v in invalid.fields.values()))
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
            messages.error(request, "; ".join(str(v) for v in invalid.fields.values()))
        return HttpResponseRedirect(reverse("admin:verification_verificationsession_change", args=[session_id])
                                    + "#decision")

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
        """Shows what will be erased first; erases only on the confirming POST."""
        if request.POST.get("confirm_erase") != "yes":
            return self.erasure_confirmation(request, list(queryset))
        count = 0
        for session in queryset:
            retention.session_erase(session=session, actor=request.user)
            count += 1
        messages.success(request, _("Personal data erased for %(count)d session(s).") % {"count": count})
        return None

    def erasure_confirmation(self, request, sessions, *, single=False):
        previews = [{"session": s, **retention.session_erasure_preview(session=s)} for s in sessions]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Erase personal data?"),
            "previews": previews,
            "total_files": sum(p["files"] for p in previews),
            "erased_fields": retention.ERASED_FIELDS,
            "kept": retention.KEPT,
            "single": single,
            "action_name": "erase_personal_data",
            "selected": [str(s.pk) for s in sessions],
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/verification/verificationsession/erase_confirm.html", context)

    def erase_view(self, request, session_id):
        """The case page's erasure: a confirmation page, then the erasure."""
        if not request.user.has_perm("verification.purge_sessions"):
            raise PermissionDenied
        session = get_object_or_404(VerificationSession, pk=session_id)
        if request.method == "POST" and request.POST.get("confirm_erase") == "yes":
            retention.session_erase(session=session, actor=request.user)
            messages.success(request, _("Personal data erased for %(count)d session(s).") % {"count": 1})
            return self._case_page(session_id)
        return self.erasure_confirmation(request, [session], single=True)

    def has_purge_permission(self, request):
        return request.user.has_perm("verification.purge_sessions")


def scores_against_thresholds(scores: dict) -> list[dict]:
    """Each score beside its threshold, with where both fall on one bar
    (per cent of a scale from 0 to the larger of the two and 100, or 1 for
    fractional scores), so a glance tells how far apart they are."""
    rows = []
    for name, value, threshold in review_policy.score_pairs(scores):
        top = max(value, threshold or 0, 1 if max(value, threshold or 0) <= 1 else 100)
        rows.append({"name": name, "value": value, "threshold": threshold,
                     "meets": None if threshold is None else value >= threshold,
                     "value_pct": round(100 * value / top, 1) if top else 0,
                     "threshold_pct": None if threshold is None else round(100 * threshold / top, 1)})
    return rows


def _outcome_meaning(session) -> str:
    """The outcome's vendor code in the reviewer's language, and the
    vendor's own words for it."""
    if not session.vendor_code or not session.outcome_vendor:
        return ""
    module = vendors.VENDORS.get(session.outcome_vendor)
    if module is None or session.vendor_code in module.SUCCESS_CODES:
        return ""  # the call went through; the scores say why it did not pass
    known = module.describe(session.vendor_code)
    return f"{known.message} ({known.meaning})"


def timeline(session) -> list[dict]:
    """Everything that happened to the session, in order: created, consent,
    attempts, vendor calls, webhooks, views of personal data, claims,
    decisions and notes."""
    events = [{"at": session.created_at, "kind": "created", "text": _("Session created"), "detail": ""}]
    if session.consent_at:
        events.append({"at": session.consent_at, "kind": "consent", "text": _("Consent given"),
                       "detail": session.consent_version})
    for s in session.submissions.all():
        events.append({"at": s.created_at, "kind": "attempt", "text": _("Attempt %(n)d received") % {"n": s.attempt},
                       "detail": f"{s.get_kind_display()} · {s.get_capture_display()} · {s.get_state_display()}"})
    for call in session.vendor_calls.all():
        known = vendors.describe(call.vendor, call.vendor_code) if call.vendor_code else None
        events.append({"at": call.created_at, "kind": "vendor", "text": f"{call.vendor} {call.endpoint}",
                       "detail": " · ".join(str(x) for x in (call.vendor_code, known.meaning if known else "",
                                                             call.error) if x)})
    for message in session.webhook_messages.all():
        events.append({"at": message.created_at, "kind": "webhook", "text": _("Webhook %(event)s") % {
            "event": message.event_type}, "detail": message.get_state_display()})
    # Decisions come from their own rows below (with their notes), not twice.
    for entry in AuditEntry.objects.filter(session_ref=session.pk).exclude(
            action=AuditEntry.Action.DECIDE).order_by("created_at"):
        events.append({"at": entry.created_at, "kind": "audit", "text": f"{entry.actor_name}: {entry.get_action_display()}",
                       "detail": entry.detail})
    for decision in session.decisions.select_related("reviewer", "confirmed_by"):
        events.append({"at": decision.created_at, "kind": "decision",
                       "text": f"{decision.reviewer}: {decision.get_decision_display()}", "detail": decision.note})
        if decision.confirmed_at:
            events.append({"at": decision.confirmed_at, "kind": "decision",
                           "text": f"{decision.confirmed_by}: {_('confirmed')} {decision.get_decision_display()}",
                           "detail": ""})
    for note in session.notes.select_related("author"):
        events.append({"at": note.created_at, "kind": "note", "text": f"{note.author}: {_('note')}",
                       "detail": note.text})
    if session.completed_at:
        events.append({"at": session.completed_at, "kind": "outcome", "text": _("Outcome: %(status)s") % {
            "status": session.get_status_display()}, "detail": session.reason})
    return sorted(events, key=lambda event: event["at"])
