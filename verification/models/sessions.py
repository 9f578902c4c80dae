"""The verification session: one person's verification for one integrator's
request, and every state it goes through. Each change of state is a method
here that says what it writes; nothing is written behind a caller's back."""

import secrets
import uuid
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..domain.errors import IllegalTransition
from ..domain.outcome import Outcome
from ..platform import crypto
from ..platform.fields import EncryptedTextField
from ..platform.idcard import mask_idcard, mask_name
from .clients import ApiClient


def new_link_token() -> str:
    return secrets.token_urlsafe(32)


def default_expiry():
    return timezone.now() + timedelta(hours=settings.KYC_SESSION_TTL_HOURS)


class VerificationSession(models.Model):
    class Status(models.TextChoices):
        CREATED = "created", _("Created")
        IN_PROGRESS = "in_progress", _("In progress")
        PROCESSING = "processing", _("Processing")
        PASSED = "passed", _("Passed")
        FAILED = "failed", _("Failed")
        ERROR = "error", _("Error")
        EXPIRED = "expired", _("Expired")
        # Ended before an outcome: the person declined, or the integrator cancelled.
        CANCELLED = "cancelled", _("Cancelled")

    class ReviewStatus(models.TextChoices):
        # Decided by the review policy (verification.domain.review_policy)
        # when an outcome is recorded, then by reviewers.
        NOT_NEEDED = "not_needed", _("Not needed")
        NEEDS_REVIEW = "needs_review", _("Needs review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    # Which statuses each status may move to. Failed, error and expired are
    # outcomes of one attempt: a new attempt (within the limit, and only where
    # the outcome allows it) moves the session back to in progress. A session
    # is cancelled only while no vendor call is in flight (not processing):
    # a billed answer on its way is never thrown away.
    TRANSITIONS = {
        Status.CREATED: {Status.IN_PROGRESS, Status.ERROR, Status.EXPIRED, Status.CANCELLED},
        Status.IN_PROGRESS: {Status.PROCESSING, Status.PASSED, Status.FAILED, Status.ERROR, Status.EXPIRED,
                             Status.CANCELLED},
        Status.PROCESSING: {Status.PASSED, Status.FAILED, Status.ERROR, Status.EXPIRED},
        Status.PASSED: set(),
        Status.FAILED: {Status.IN_PROGRESS, Status.CANCELLED},
        Status.ERROR: {Status.IN_PROGRESS, Status.CANCELLED},
        Status.EXPIRED: {Status.IN_PROGRESS, Status.CANCELLED},
        Status.CANCELLED: set(),
    }
    OUTCOME_STATUSES = {Status.PASSED, Status.FAILED, Status.ERROR, Status.EXPIRED}

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey(
        ApiClient, null=True, blank=True, on_delete=models.PROTECT, related_name="sessions",
        verbose_name=_("API client"),
    )
    # A name in verification.methods.REGISTRY: the method that runs, or ""
    # while an `auto` session has not chosen one yet.
    method = models.CharField(verbose_name=_("method"), max_length=20, blank=True)
    # What the integrator asked for: a method's name, or "auto".
    method_requested = models.CharField(verbose_name=_("method requested"), max_length=20, blank=True)
    # `auto`: the methods it may run, in the order tried (those needing a
    # name and ID number left out when the session has none).
    method_order = models.JSONField(verbose_name=_("method order"), default=list, blank=True)
    # Every method the session was routed to, in order (the running one last).
    methods_tried = models.JSONField(verbose_name=_("methods tried"), default=list, blank=True)
    # What the person's device reported before an `auto` session chose
    # (domain.device.Device.as_dict()).
    device_facts = models.JSONField(verbose_name=_("device"), default=dict, blank=True)
    external_ref = models.CharField(verbose_name=_("external reference"), max_length=128, db_index=True)
    # Encrypted at rest; an exact ID number is found through the keyed hash,
    # which set_identity() keeps in step.
    realname = EncryptedTextField(max_length=64, blank=True)
    idcard = EncryptedTextField(max_length=18, blank=True)
    idcard_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    reference_photo = models.FileField(verbose_name=_("reference photo"), upload_to="reference/", blank=True)
    options = models.JSONField(verbose_name=_("options"), default=dict, blank=True)
    return_url = models.URLField(verbose_name=_("return URL"), max_length=2000, blank=True)
    # "" when the integrator gave none: the person's browser chooses
    # (Accept-Language); the person's own choice on the page is stored here.
    locale = models.CharField(verbose_name=_("language"), max_length=10, default="", blank=True)

    link_token = models.CharField(max_length=64, unique=True, default=new_link_token, editable=False)
    status = models.CharField(verbose_name=_("status"), max_length=20, choices=Status.choices,
                              default=Status.CREATED, db_index=True)
    review_status = models.CharField(verbose_name=_("review status"), max_length=20, choices=ReviewStatus.choices,
                                     default=ReviewStatus.NOT_NEEDED, db_index=True)
    expires_at = models.DateTimeField(verbose_name=_("link expires at"), default=default_expiry)

    consent_at = models.DateTimeField(verbose_name=_("consent given at"), null=True, blank=True)
    consent_ip = models.GenericIPAddressField(verbose_name=_("consent IP address"), null=True, blank=True)
    consent_user_agent = models.CharField(verbose_name=_("consent user agent"), max_length=512, blank=True)
    consent_version = models.CharField(verbose_name=_("consent text version"), max_length=32, blank=True)

    attempts_used = models.PositiveSmallIntegerField(verbose_name=_("attempts used"), default=0)
    max_attempts = models.PositiveSmallIntegerField(verbose_name=_("attempt limit"), default=3)

    # The current attempt's vendor handle (Jumdata's token and taskNo).
    vendor_token = models.CharField(max_length=128, blank=True)
    # The vendor's page for the current hosted check, when it cannot be made
    # again from the token (FaceID's DetectAuth hands out its Url once).
    vendor_url = models.URLField(max_length=2000, blank=True)
    vendor_token_expires_at = models.DateTimeField(null=True, blank=True)
    vendor_task_no = models.CharField(verbose_name=_("vendor task number"), max_length=64, blank=True, db_index=True)
    vendor_order_no = models.CharField(verbose_name=_("vendor order number"), max_length=64, blank=True,
                                       db_index=True)
    # A short lease taken before a vendor call on this session's behalf, so
    # two processes (the return page and a task) never call at once.
    vendor_busy_until = models.DateTimeField(null=True, blank=True)
    # When the attempt's one result-polling chain (hosted pages) asks the
    # vendor next. Each queued wake-up carries the time it was queued for;
    # one whose time is no longer this is stale and calls nobody, so however
    # many page loads and tasks arrive, one chain polls.
    result_poll_due_at = models.DateTimeField(null=True, blank=True)
    # True from sending the person to the vendor's page until their first
    # return: only that return asks for the result at once; reloads, other
    # tabs and later loads of the return address show what is known.
    awaiting_return = models.BooleanField(default=False)

    passed = models.BooleanField(verbose_name=_("passed"), null=True)
    reason = models.CharField(verbose_name=_("reason"), max_length=64, blank=True)
    # Named codes too (FaceID's "FailedOperation.LipVoiceRecognize").
    vendor_code = models.CharField(verbose_name=_("vendor code"), max_length=64, blank=True, db_index=True)
    # Whose code `vendor_code` is: an h5 session may end on Tencent's answer.
    outcome_vendor = models.CharField(verbose_name=_("outcome from vendor"), max_length=16, blank=True)
    scores = models.JSONField(verbose_name=_("scores"), default=dict, blank=True)
    retryable = models.BooleanField(verbose_name=_("retry allowed"), default=False)
    face_image = models.FileField(verbose_name=_("face image"), upload_to="faces/", blank=True)

    # What the person was asked to do on camera in the current attempt.
    challenge_kind = models.CharField(verbose_name=_("challenge"), max_length=16, blank=True)
    challenge_value = models.CharField(verbose_name=_("challenge value"), max_length=32, blank=True)
    # When the challenge was issued: it answers uploads for
    # KYC_CHALLENGE_TTL_SECONDS from then, and a clip cannot be longer than
    # the time since (services.uploads).
    challenge_issued_at = models.DateTimeField(verbose_name=_("challenge issued at"), null=True, blank=True)
    # Set when something calls for a human look (a video chosen from files
    # may have been recorded earlier, or by someone else); review_reasons
    # says what, as codes (e.g. "file_upload"), in the order they arose.
    needs_review = models.BooleanField(verbose_name=_("needs review"), default=False, db_index=True)
    review_reasons = models.JSONField(verbose_name=_("review reasons"), default=list, blank=True)
    # The reviewer working on the case, and when they last did something on
    # it: a claim idle for KYC_REVIEW_CLAIM_IDLE_MINUTES lapses.
    claimed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("claimed by"))
    claimed_at = models.DateTimeField(verbose_name=_("claim last active"), null=True, blank=True)
    # When the case entered the queue (needs review), for its age and the SLA.
    queued_at = models.DateTimeField(verbose_name=_("in the queue since"), null=True, blank=True, db_index=True)

    created_at = models.DateTimeField(verbose_name=_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(verbose_name=_("completed"), null=True, blank=True)

    class Meta:
        verbose_name = _("verification session")
        verbose_name_plural = _("verification sessions")
        ordering = ["-created_at"]
        # The API's list: one client's sessions, newest first, in cursor pages.
        indexes = [models.Index(fields=["client", "-created_at", "-id"], name="session_client_newest")]
        permissions = [
            ("review_session", _("Can review sessions and decide on them")),
            ("view_media", _("Can play the videos and see the images of sessions")),
            ("view_full_identity", _("Can see full names and ID numbers")),
            ("export_sessions", _("Can export sessions and decisions as CSV")),
            ("purge_sessions", _("Can purge personal data and erase sessions")),
            ("reassign_case", _("Can reassign cases to other reviewers")),
        ]

    def __str__(self):
        return f"{self.method or self.method_requested} {self.external_ref}"

    def _save(self, *fields: str) -> None:
        """Writes exactly `fields` (and the update time): never a column some
        other process may have changed since this object was read."""
        self.save(update_fields=[*fields, "updated_at"])

    def set_locale(self, locale: str) -> None:
        """The language the person chose on the page (wins from then on)."""
        self.locale = locale
        self._save("locale")

    # --- identity ---------------------------------------------------------

    def set_identity(self, *, realname: str, idcard: str) -> None:
        """The name and ID number, and the keyed hash that finds the number
        (callers save)."""
        self.realname, self.idcard = realname, idcard
        self.idcard_hash = crypto.search_hash(idcard) if idcard else ""

    def forget_identity(self) -> None:
        """The name and ID number go; the keyed hash stays, so the session is
        still found by its number (retention keeps hashes)."""
        self.realname = self.idcard = ""
        self._save("realname", "idcard")

    # --- consent ------------------------------------------------------------

    def record_consent(self, *, ip: str | None, user_agent: str) -> None:
        """Once: a second consent changes nothing."""
        if self.has_consent:
            return
        self.consent_at = timezone.now()
        self.consent_ip = ip
        self.consent_user_agent = user_agent[:512]
        self.consent_version = settings.KYC_CONSENT_VERSION
        self._save("consent_at", "consent_ip", "consent_user_agent", "consent_version")

    # --- attempts -------------------------------------------------------------

    def transition(self, new_status: str) -> None:
        """Moves to `new_status` in memory, or raises IllegalTransition."""
        if new_status not in self.TRANSITIONS[self.Status(self.status)]:
            raise IllegalTransition(f"{self.status} → {new_status} is not allowed")
        self.status = new_status
        if new_status == self.Status.IN_PROGRESS:
            self.passed = None
            self.reason = ""
            self.vendor_code = ""
            self.outcome_vendor = ""
            self.retryable = False
            self.completed_at = None

    ATTEMPT_START_FIELDS = ("status", "attempts_used", "passed", "reason", "vendor_code", "outcome_vendor",
                            "retryable", "completed_at", "challenge_kind", "challenge_value",
                            "challenge_issued_at")

    def claim_attempt(self, *, vendor_lease_seconds: int | None = None) -> bool:
        """Begins an attempt and saves it in one conditional UPDATE, unless
        another request began one since this session was read: then False,
        and this object is read again. No lock is held.

        `vendor_lease_seconds` (hosted pages): the attempt is begun holding
        the vendor lease for the call that starts it, with no vendor token
        yet; `start_hosted_check` lets the lease go. A start that never got
        that far (its process killed, its database gone) is known by a lease
        that lapsed with no token (`start_lost`)."""
        if not self.can_start_attempt:
            raise IllegalTransition("no attempt can start in this state")
        seen = {"status": self.status, "attempts_used": self.attempts_used}
        self.transition(self.Status.IN_PROGRESS)
        self.attempts_used += 1
        self.challenge_kind = self.challenge_value = ""
        self.challenge_issued_at = None
        fields = self.ATTEMPT_START_FIELDS
        if vendor_lease_seconds is not None:
            self.vendor_busy_until = timezone.now() + timedelta(seconds=vendor_lease_seconds)
            self.vendor_token, self.vendor_token_expires_at, self.vendor_url = "", None, ""
            fields = (*fields, "vendor_busy_until", "vendor_token", "vendor_token_expires_at", "vendor_url")
        return self._save_if_unchanged(seen, fields)

    OUTCOME_FIELDS = ("status", "passed", "reason", "vendor_code", "outcome_vendor", "retryable", "scores",
                      "completed_at", "attempts_used", "vendor_order_no", "result_poll_due_at")

    def record_outcome(self, outcome: Outcome, *, give_back_attempt: bool = False) -> None:
        """Ends the attempt with `outcome` and saves it. `give_back_attempt`:
        nothing was billed, so the attempt does not count against the limit."""
        self._apply_outcome(outcome, give_back_attempt=give_back_attempt)
        self._save(*self.OUTCOME_FIELDS)

    def _apply_outcome(self, outcome: Outcome, *, give_back_attempt: bool = False) -> None:
        self.transition(outcome.status)
        self.passed = outcome.status == self.Status.PASSED
        self.reason = outcome.reason
        self.vendor_code = outcome.vendor_code
        self.outcome_vendor = outcome.vendor
        self.retryable = outcome.retryable
        if outcome.scores:
            self.scores = {**self.scores, **outcome.scores}
        if outcome.order_no:
            self.vendor_order_no = outcome.order_no
        if give_back_attempt:
            self.attempts_used = max(self.attempts_used - 1, 0)
        self.result_poll_due_at = None  # an outcome ends the attempt's polling
        self.completed_at = timezone.now()

    def record_link_expiry(self) -> bool:
        """Ends a session whose link has expired before the attempt had an
        outcome, in one conditional UPDATE: not if another process moved it
        on since it was read (then False, and this object is read again)."""
        seen = {"status": self.status}
        self._apply_outcome(Outcome("expired", "link_expired"))
        return self._save_if_unchanged(seen, self.OUTCOME_FIELDS)

    CANCEL_REASONS = ("declined", "cancelled_by_client")

    def cancel(self, *, reason: str) -> bool:
        """Ends the session for good (the person declined, or the integrator
        cancelled it), in one conditional UPDATE: False, and this object read
        again, if another process moved it on since it was read. Raises
        IllegalTransition where no cancelling is possible (passed, or being
        checked: a billed answer is on its way)."""
        if reason not in self.CANCEL_REASONS:
            raise ValueError(f"{reason!r} is not a reason to cancel")
        seen = {"status": self.status}
        self.transition(self.Status.CANCELLED)
        self.passed, self.reason, self.retryable = None, reason, False
        self.result_poll_due_at = None
        self.completed_at = timezone.now()
        return self._save_if_unchanged(seen, ("status", "passed", "reason", "retryable", "result_poll_due_at",
                                              "completed_at"))

    def _save_if_unchanged(self, seen: dict, fields) -> bool:
        """Writes `fields` where the row still holds `seen`."""
        self.updated_at = timezone.now()
        values = {name: getattr(self, self._meta.get_field(name).attname) for name in (*fields, "updated_at")}
        if type(self).objects.filter(pk=self.pk, **seen).update(**values) != 1:
            self.refresh_from_db()
            return False
        return True

    # --- `auto`: choosing the method, and moving to the next one -----------------

    @property
    def is_auto(self) -> bool:
        return self.method_requested == "auto"

    @property
    def method_chosen(self) -> bool:
        return bool(self.method)

    def choose_method(self, name: str, *, device: dict) -> bool:
        """An `auto` session's first method, chosen for the person's device,
        in one conditional UPDATE: False (this object read again) when
        another window chose first."""
        if not self.is_auto or self.method:
            raise IllegalTransition("only an auto session without a method chooses one")
        seen = {"method": "", "status": self.status}
        self.method, self.methods_tried, self.device_facts = name, [*self.methods_tried, name], device
        return self._save_if_unchanged(seen, ("method", "methods_tried", "device_facts"))

    def choose_method_again(self, name: str, *, device: dict) -> bool:
        """The person continued on another device before anything started:
        the method is chosen again for it (the route starts over), in one
        conditional UPDATE; False (this object read again) when an attempt
        began or another window chose meanwhile."""
        seen = {"method": self.method, "status": self.Status.CREATED, "attempts_used": self.attempts_used,
                "challenge_kind": "", "vendor_token": ""}
        self.method, self.methods_tried, self.device_facts = name, [name], device
        return self._save_if_unchanged(seen, ("method", "methods_tried", "device_facts"))

    FALL_OVER_FIELDS = ("method", "methods_tried", "status", "attempts_used", "passed", "reason", "vendor_code",
                        "outcome_vendor", "retryable", "completed_at", "challenge_kind", "challenge_value",
                        "challenge_issued_at", "vendor_token", "vendor_token_expires_at", "vendor_task_no", "awaiting_return",
                        "result_poll_due_at")

    def fall_over(self, to: str) -> bool:
        """The running method's vendor was down and billed nothing: the
        session starts again with method `to`, as if just consented (status
        created, the attempt given back, consent kept), in one conditional
        UPDATE; False (this object read again) when another process moved
        the attempt on since it was read. The one move back to `created`."""
        if not self.is_auto or self.status not in (self.Status.IN_PROGRESS, self.Status.PROCESSING):
            raise IllegalTransition(f"an attempt of an auto session falls over, not a {self.status} one")
        seen = {"method": self.method, "status": self.status, "attempts_used": self.attempts_used}
        self.method, self.methods_tried = to, [*self.methods_tried, to]
        self.status = self.Status.CREATED
        self.attempts_used = max(self.attempts_used - 1, 0)
        self.passed, self.reason, self.vendor_code, self.outcome_vendor = None, "", "", ""
        self.retryable, self.completed_at = False, None
        self.challenge_kind = self.challenge_value = ""
        self.challenge_issued_at = None
        self.vendor_token, self.vendor_token_expires_at, self.vendor_task_no = "", None, ""
        self.awaiting_return, self.result_poll_due_at = False, None
        return self._save_if_unchanged(seen, self.FALL_OVER_FIELDS)

    @property
    def possible_methods(self) -> list[str]:
        """Every method this session may run: what consent, framing and form
        targets must cover before (and after) an `auto` session chooses."""
        return list(self.method_order) if self.is_auto else [self.method]

    @property
    def route_taken(self) -> list[str]:
        """The methods the session ran, in order (sessions made before
        routing, or by hand, hold just their method)."""
        return list(self.methods_tried) or ([self.method] if self.method else [])

    def methods_left(self) -> list[str]:
        """The `auto` order's methods after the running one."""
        if self.method not in self.method_order:
            return []
        return self.method_order[self.method_order.index(self.method) + 1:]

    def allow_one_more_attempt(self) -> None:
        """A reviewer's "ask to try again": one more attempt, a link alive
        for another session lifetime, the last outcome made retryable."""
        self.max_attempts = max(self.max_attempts, self.attempts_used) + 1
        if self.status in (self.Status.FAILED, self.Status.ERROR, self.Status.EXPIRED):
            self.retryable = True
        self.expires_at = max(self.expires_at, default_expiry())
        self._save("max_attempts", "retryable", "expires_at")

    def record_review(self, review_status: str, *, reviewer) -> bool:
        """A reviewer's final answer, in one conditional UPDATE: only while
        the case needs review and `reviewer` holds it. False (and this
        object read again) when someone else decided or took it first."""
        if review_status not in (self.ReviewStatus.APPROVED, self.ReviewStatus.REJECTED):
            raise ValueError(f"{review_status!r} is not a decision")
        seen = {"review_status": self.ReviewStatus.NEEDS_REVIEW, "claimed_by": reviewer.pk}
        self.review_status, self.claimed_by, self.claimed_at = review_status, None, None
        return self._save_if_unchanged(seen, ("review_status", "claimed_by", "claimed_at"))

    def record_triage(self, review_status: str, reasons) -> None:
        """The review policy's answer (verification.domain.review_policy), in
        one conditional UPDATE: a session a reviewer has decided, even since
        this object was read, keeps its decision."""
        decided = (self.ReviewStatus.APPROVED, self.ReviewStatus.REJECTED)
        if self.review_status in decided:
            return
        self._add_review_reasons(reasons)
        if review_status == self.ReviewStatus.NEEDS_REVIEW and (
                self.review_status != review_status or self.queued_at is None):
            self.queued_at = timezone.now()
        self.review_status = review_status
        self.updated_at = timezone.now()
        fields = ("review_status", "needs_review", "review_reasons", "queued_at", "updated_at")
        written = type(self).objects.filter(pk=self.pk).exclude(review_status__in=decided).update(
            **{name: getattr(self, name) for name in fields})
        if not written:
            self.refresh_from_db()

    # --- claims: one reviewer works a case at a time ----------------------------------

    def claim_lapsed(self, now, idle: timedelta) -> bool:
        return self.claimed_by_id is None or self.claimed_at is None or self.claimed_at <= now - idle

    def take_claim(self, reviewer, *, now, idle: timedelta) -> bool:
        """Claims the case for `reviewer` (or keeps their claim alive) in one
        conditional UPDATE: only while it needs review and nobody else holds
        a live claim. False, and this object read again, otherwise."""
        taken = type(self).objects.filter(pk=self.pk, review_status=self.ReviewStatus.NEEDS_REVIEW).filter(
            models.Q(claimed_by=None) | models.Q(claimed_by=reviewer.pk) | models.Q(claimed_at__lte=now - idle)
            | models.Q(claimed_at=None)
        ).update(claimed_by=reviewer.pk, claimed_at=now)
        if taken != 1:
            self.refresh_from_db()
            return False
        self.claimed_by, self.claimed_at = reviewer, now
        return True

    def release_claim(self, *, holder=None) -> None:
        """Gives the case back to the queue (only `holder`'s claim, if given)."""
        rows = type(self).objects.filter(pk=self.pk)
        if holder is not None:
            rows = rows.filter(claimed_by=holder.pk)
        if rows.update(claimed_by=None, claimed_at=None):
            self.claimed_by, self.claimed_at = None, None

    def reassign_claim(self, reviewer, *, now) -> None:
        """A supervisor gives the case to `reviewer`, whoever held it."""
        type(self).objects.filter(pk=self.pk).update(claimed_by=reviewer.pk, claimed_at=now)
        self.claimed_by, self.claimed_at = reviewer, now

    # --- recorded methods -------------------------------------------------------

    def set_challenge(self, *, kind: str, value: str) -> None:
        """The challenge of the attempt under way, issued now."""
        self.challenge_kind, self.challenge_value = kind, value
        self.challenge_issued_at = timezone.now()
        self._save("challenge_kind", "challenge_value", "challenge_issued_at")

    def drop_challenge(self) -> bool:
        """The challenge has expired: it answers nothing more, and the next
        one asked for is new. One conditional UPDATE (the attempt stays under
        way): False, and this object read again, when the challenge is no
        longer the one this object holds."""
        seen = {"status": self.status, "challenge_value": self.challenge_value,
                "challenge_issued_at": self.challenge_issued_at}
        self.challenge_kind = self.challenge_value = ""
        self.challenge_issued_at = None
        return self._save_if_unchanged(seen, ("challenge_kind", "challenge_value", "challenge_issued_at"))

    def challenge_age(self, now=None) -> timedelta | None:
        """How long ago the challenge was issued (None when none is, or when
        it was issued before issue times were kept)."""
        if not self.challenge_kind or self.challenge_issued_at is None:
            return None
        return (now or timezone.now()) - self.challenge_issued_at

    @property
    def challenge_expires_at(self):
        """When the challenge stops answering uploads (issued, plus
        KYC_CHALLENGE_TTL_SECONDS); None when there is none, or it asks for
        nothing ("none": nothing to answer late)."""
        if not self.challenge_kind or self.challenge_kind == "none" or self.challenge_issued_at is None:
            return None
        return self.challenge_issued_at + timedelta(seconds=settings.KYC_CHALLENGE_TTL_SECONDS)

    def challenge_expired(self, now=None) -> bool:
        expires_at = self.challenge_expires_at
        return expires_at is not None and (now or timezone.now()) >= expires_at

    def start_processing(self, *, review_reasons: tuple[str, ...] = ()) -> None:
        """An upload was accepted: the vendor's answer is awaited."""
        self.transition(self.Status.PROCESSING)
        self.reason = "awaiting_result"
        self._add_review_reasons(review_reasons)
        self._save("status", "reason", "needs_review", "review_reasons")

    def flag_for_review(self, *reasons: str) -> None:
        """A human should look, for these reasons (kept once each). A session
        with an outcome and no review yet joins the queue at once; one still
        under way is triaged when its outcome comes."""
        if not self._add_review_reasons(reasons):
            return
        if self.status in self.OUTCOME_STATUSES and self.review_status == self.ReviewStatus.NOT_NEEDED:
            self.record_triage(self.ReviewStatus.NEEDS_REVIEW, ())
            return
        self._save("needs_review", "review_reasons")

    def _add_review_reasons(self, reasons) -> bool:
        new = [reason for reason in dict.fromkeys(reasons) if reason not in self.review_reasons]
        if new:
            self.review_reasons = [*self.review_reasons, *new]
            self.needs_review = True
        return bool(new)

    # --- hosted-page methods ------------------------------------------------------

    def start_hosted_check(self, *, vendor_token: str, task_no: str, token_expires_at, first_poll_at,
                           vendor_url: str = "") -> None:
        """The vendor handed out a check on its page; the person is sent
        there, and the attempt's polling chain sleeps until `first_poll_at`."""
        self.vendor_token, self.vendor_task_no = vendor_token, task_no
        self.vendor_token_expires_at = token_expires_at
        self.vendor_url = vendor_url
        self.awaiting_return = True
        self.result_poll_due_at = first_poll_at
        self.vendor_busy_until = None  # the start's lease (claim_attempt)
        self._save("vendor_token", "vendor_task_no", "vendor_token_expires_at", "vendor_url", "awaiting_return",
                   "result_poll_due_at", "vendor_busy_until")

    def start_lost(self, now=None) -> bool:
        """A hosted attempt begun whose start never stored the vendor's token
        and no longer holds the lease it was begun with: its process died or
        its database went away mid-start (the vendor call perhaps made)."""
        now = now or timezone.now()
        lease_lapsed = self.vendor_busy_until is None or self.vendor_busy_until <= now
        return self.status == self.Status.IN_PROGRESS and not self.vendor_token and lease_lapsed

    def expect_return(self) -> None:
        """The person goes back to the vendor's page of the same check: the
        return that follows may ask once more."""
        type(self).objects.filter(pk=self.pk, vendor_token=self.vendor_token).update(awaiting_return=True)
        self.awaiting_return = True

    def take_return(self) -> bool:
        """The person's first return from the vendor's page since they were
        sent there, claimed in one conditional UPDATE: True for exactly one
        of any number of loads of the return address."""
        taken = type(self).objects.filter(
            pk=self.pk, vendor_token=self.vendor_token, awaiting_return=True
        ).update(awaiting_return=False)
        self.awaiting_return = False
        return taken == 1

    def record_pending(self, *, reason: str, vendor_code: str, next_poll_at) -> None:
        """A non-final answer (or none): the chain asks again at `next_poll_at`."""
        if self.status == self.Status.IN_PROGRESS:
            self.transition(self.Status.PROCESSING)
        self.reason, self.vendor_code = reason, vendor_code
        self.result_poll_due_at = next_poll_at
        self._save("status", "reason", "vendor_code", "result_poll_due_at")

    @contextmanager
    def vendor_lease(self, seconds: int):
        """Holds the session for one vendor call on its behalf, so two
        processes (a page load and a task) never call at once. Yields True
        when taken, False (calling nobody) when another process holds it or
        has moved the attempt on since this object was read. Compare-and-set:
        no lock is held during the call (on SQLite a held write lock would
        block the sandbox answering it). A lease left by a killed process
        lapses after `seconds`."""
        now = timezone.now()
        until = now + timedelta(seconds=seconds)
        taken = (
            type(self).objects.filter(pk=self.pk, status=self.status, result_poll_due_at=self.result_poll_due_at)
            .exclude(vendor_busy_until__gt=now)
            .update(vendor_busy_until=until)
        ) == 1
        try:
            yield taken
        finally:
            if taken:
                type(self).objects.filter(pk=self.pk, vendor_busy_until=until).update(vendor_busy_until=None)

    # --- evidence and retention ---------------------------------------------------------

    def keep_face(self, name: str, content) -> None:
        """Stores the face shown for the session (`content` a Django File)."""
        self.face_image.save(name, content, save=False)
        self._save("face_image")

    def forget_media(self) -> None:
        """The session's own files are gone from storage: their names go too."""
        self.face_image = self.reference_photo = ""
        self._save("face_image", "reference_photo")

    # --- reading -------------------------------------------------------------------------

    @property
    def is_link_expired(self) -> bool:
        return timezone.now() >= self.expires_at

    @property
    def has_consent(self) -> bool:
        return self.consent_at is not None

    @property
    def attempts_left(self) -> int:
        return max(self.max_attempts - self.attempts_used, 0)

    @property
    def can_start_attempt(self) -> bool:
        if self.is_link_expired or not self.attempts_left:
            return False
        if self.status == self.Status.CREATED:
            return True
        return self.status in (self.Status.FAILED, self.Status.ERROR, self.Status.EXPIRED) and self.retryable

    @property
    def is_final(self) -> bool:
        """An end after which nothing more can happen in this session."""
        return self.status == self.Status.CANCELLED or (
            self.status in self.OUTCOME_STATUSES and not self.retry_allowed
        )

    @property
    def retry_allowed(self) -> bool:
        return self.status != self.Status.CREATED and self.can_start_attempt

    def has_live_vendor_token(self, now=None) -> bool:
        now = now or timezone.now()
        return bool(self.vendor_token) and self.vendor_token_expires_at is not None and now < self.vendor_token_expires_at

    @property
    def masked_name(self) -> str:
        return mask_name(self.realname)

    @property
    def masked_idcard(self) -> str:
        return mask_idcard(self.idcard)
