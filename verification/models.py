"""The portal's records: integration clients, verification sessions and
every call made to a vendor on a session's behalf."""

import base64
import copy
import hashlib
import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import crypto
from .fields import EncryptedTextField
from .idcard import mask_idcard, mask_name


_UNREAD = object()


class KeyRefused(Exception):
    """A known API key that may not be used now; `code` and `message` say why
    (the API answers 401 with them)."""

    def __init__(self, code: str, message: str, *, client_id: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.client_id = client_id


class ApiClient(models.Model):
    """A product team's integration. Its API keys are ApiKey rows: only a
    hash of each is kept, the key itself is shown once."""

    name = models.CharField(max_length=100, unique=True)
    allowed_origins = models.JSONField(default=list, blank=True)
    webhook_url = models.URLField(blank=True)
    # Standard Webhooks secret (`whsec_<base64>`); signing needs it in clear.
    webhook_secret = models.CharField(max_length=100, blank=True, editable=False)
    # The secret before the last rotation, still signed with until dropped.
    webhook_secret_previous = models.CharField(max_length=100, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("API client")
        permissions = [("manage_api_keys", _("Can rotate and revoke API keys"))]

    def __str__(self):
        return self.name

    @classmethod
    def issue(cls, *, name: str, allowed_origins=(), webhook_url: str = "") -> tuple["ApiClient", str]:
        """A new client with one key of the portal's current mode."""
        client = cls.objects.create(
            name=name,
            allowed_origins=list(allowed_origins),
            webhook_url=webhook_url,
            webhook_secret="whsec_" + base64.b64encode(secrets.token_bytes(32)).decode() if webhook_url else "",
        )
        _api_key, key = ApiKey.issue(client=client)
        return client, key

    @classmethod
    def authenticate(cls, key: str) -> "ApiClient | None":
        """The active client owning `key`, in one indexed query; None for a
        key nobody owns. Raises KeyRefused for a known key that is revoked,
        past its grace or of the other mode."""
        api_key = ApiKey.objects.select_related("client").filter(key_hash=ApiKey.hash_key(key)).first()
        if api_key is None or not api_key.client.is_active:
            return None
        api_key.check_usable(now=timezone.now(), mode=ApiKey.current_mode())
        return api_key.client

    def rotate_key(self, *, grace: timedelta, now=None) -> tuple["ApiKey", str]:
        """Issues a new key of the current mode; every other usable key stays
        valid for `grace` at most (a key already ending sooner keeps its
        end). Returns the new key's row and the key, to show once."""
        now = now or timezone.now()
        ends = now + grace
        usable = self.keys.filter(revoked_at__isnull=True)
        usable.filter(expires_at__isnull=True).update(expires_at=ends)
        usable.filter(expires_at__gt=ends).update(expires_at=ends)
        return ApiKey.issue(client=self, now=now)

    def revoke_keys(self, *, now=None) -> int:
        """Every key not yet revoked stops now; returns how many."""
        return self.keys.filter(revoked_at__isnull=True).update(revoked_at=now or timezone.now())


class ApiKey(models.Model):
    """One API key of a client. A client holds several while old keys are
    in their grace after a rotation. Like Stripe's, a key carries its mode:
    a test key (`kyc_test_…`) works only in sandbox mode, a live key
    (`kyc_live_…`) only in live mode. The mode is stored, so the refusal does
    not rest on the prefix alone (keys from before modes, `kyc_…`, were
    marked test keys by migration)."""

    class Mode(models.TextChoices):
        TEST = "test", _("Test (sandbox mode only)")
        LIVE = "live", _("Live (live mode only)")

    PREFIXES = {Mode.TEST: "kyc_test_", Mode.LIVE: "kyc_live_"}
    HINT_LENGTH = 13  # the prefix and four random characters

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="keys")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=16, editable=False, help_text=_("First characters of the key."))
    mode = models.CharField(max_length=4, choices=Mode.choices)
    created_at = models.DateTimeField(default=timezone.now)
    # Set by a rotation: the end of the old key's grace.
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.hint}…"

    @staticmethod
    def hash_key(key: str) -> str:
        # API keys are 256-bit random strings, so a plain SHA-256 cannot be
        # brute-forced and lets the lookup stay a single indexed query.
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def current_mode(cls) -> str:
        return cls.Mode.TEST if settings.SANDBOX_MODE else cls.Mode.LIVE

    @classmethod
    def issue(cls, *, client: ApiClient, now=None) -> tuple["ApiKey", str]:
        """A new key of the portal's current mode: its row and the key itself."""
        mode = cls.current_mode()
        key = cls.PREFIXES[mode] + secrets.token_urlsafe(32)
        return cls.objects.create(
            client=client, key_hash=cls.hash_key(key), hint=key[: cls.HINT_LENGTH], mode=mode,
            created_at=now or timezone.now(),
        ), key

    def is_usable(self, now) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def check_usable(self, *, now, mode: str) -> None:
        """Raises KeyRefused unless this key may be used now in `mode`."""
        if self.revoked_at is not None:
            raise KeyRefused(
                "key_revoked", "this API key was revoked; ask the portal's operator for a new one",
                client_id=self.client_id,
            )
        if self.expires_at is not None and now >= self.expires_at:
            raise KeyRefused(
                "key_expired", "this API key was replaced and its grace period is over; use the new key",
                client_id=self.client_id,
            )
        if self.mode != mode:
            if self.mode == self.Mode.TEST:
                message = "this is a test key; this portal runs in live mode: use a live key (kyc_live_…)"
            else:
                message = "this is a live key; this portal runs in sandbox mode: use a test key (kyc_test_…)"
            raise KeyRefused("wrong_mode", message, client_id=self.client_id)


class Method(models.TextChoices):
    H5 = "h5", _("Jumdata H5 liveness")
    TENCENT_LIP = "tencent_lip", _("Tencent lip-code video")
    TENCENT_IDCARD = "tencent_idcard", _("Tencent lip-code video with ID check")
    JUHE_VIDEO = "juhe_video", _("Juhe video liveness")
    JUHE_VIDEO_AUTH = "juhe_video_auth", _("Juhe video liveness with ID check")
    TENCENT_PHOTO = "tencent_photo", _("Tencent selfie photo")


class IllegalTransition(Exception):
    """A session was asked to move to a status its current one cannot reach."""


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

    class ReviewStatus(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    # Which statuses each status may move to. Failed, error and expired are
    # outcomes of one attempt: a new attempt (within the limit, and only where
    # the outcome allows it) moves the session back to in progress.
    TRANSITIONS = {
        Status.CREATED: {Status.IN_PROGRESS, Status.ERROR, Status.EXPIRED},
        Status.IN_PROGRESS: {Status.PROCESSING, Status.PASSED, Status.FAILED, Status.ERROR, Status.EXPIRED},
        Status.PROCESSING: {Status.PASSED, Status.FAILED, Status.ERROR, Status.EXPIRED},
        Status.PASSED: set(),
        Status.FAILED: {Status.IN_PROGRESS},
        Status.ERROR: {Status.IN_PROGRESS},
        Status.EXPIRED: {Status.IN_PROGRESS},
    }
    OUTCOME_STATUSES = {Status.PASSED, Status.FAILED, Status.ERROR, Status.EXPIRED}

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey(
        ApiClient, null=True, blank=True, on_delete=models.PROTECT, related_name="sessions",
        verbose_name=_("API client"),
    )
    method = models.CharField(verbose_name=_("method"), max_length=20, choices=Method.choices)
    external_ref = models.CharField(verbose_name=_("external reference"), max_length=128, db_index=True)
    # Encrypted at rest; exact ID-number search goes through the keyed hash,
    # which save() keeps in step (a queryset update() does not).
    realname = EncryptedTextField(max_length=64, blank=True)
    idcard = EncryptedTextField(max_length=18, blank=True)
    idcard_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    reference_photo = models.FileField(verbose_name=_("reference photo"), upload_to="reference/", blank=True)
    options = models.JSONField(verbose_name=_("options"), default=dict, blank=True)
    return_url = models.URLField(verbose_name=_("return URL"), max_length=2000, blank=True)
    locale = models.CharField(verbose_name=_("language"), max_length=10, default="zh-hans")

    link_token = models.CharField(max_length=64, unique=True, default=new_link_token, editable=False)
    status = models.CharField(verbose_name=_("status"), max_length=20, choices=Status.choices, default=Status.CREATED, db_index=True)
    review_status = models.CharField(verbose_name=_("review status"), 
        max_length=20, choices=ReviewStatus.choices, default=ReviewStatus.PENDING, db_index=True
    )
    expires_at = models.DateTimeField(verbose_name=_("link expires at"), default=default_expiry)

    consent_at = models.DateTimeField(verbose_name=_("consent given at"), null=True, blank=True)
    consent_ip = models.GenericIPAddressField(verbose_name=_("consent IP address"), null=True, blank=True)
    consent_user_agent = models.CharField(verbose_name=_("consent user agent"), max_length=512, blank=True)
    consent_version = models.CharField(verbose_name=_("consent text version"), max_length=32, blank=True)

    attempts_used = models.PositiveSmallIntegerField(verbose_name=_("attempts used"), default=0)
    max_attempts = models.PositiveSmallIntegerField(verbose_name=_("attempt limit"), default=3)

    # The current attempt's vendor handle (Jumdata's token and taskNo).
    vendor_token = models.CharField(max_length=128, blank=True)
    vendor_token_expires_at = models.DateTimeField(null=True, blank=True)
    vendor_task_no = models.CharField(verbose_name=_("vendor task number"), max_length=64, blank=True, db_index=True)
    vendor_order_no = models.CharField(verbose_name=_("vendor order number"), max_length=64, blank=True, db_index=True)
    # A short lease taken before a vendor call on this session's behalf, so
    # two processes (the return page and a task) never call at once.
    vendor_busy_until = models.DateTimeField(null=True, blank=True)
    # When the attempt's one result-polling chain (H5) asks the vendor next.
    # Each queued wake-up carries the time it was queued for; one whose time
    # is no longer this is stale and calls nobody, so however many page loads
    # and tasks arrive, one chain polls.
    result_poll_due_at = models.DateTimeField(null=True, blank=True)
    # True from sending the person to the vendor's page until their first
    # return: only that return asks for the result at once; reloads, other
    # tabs and later loads of the return address show what is known.
    awaiting_return = models.BooleanField(default=False)

    passed = models.BooleanField(verbose_name=_("passed"), null=True)
    reason = models.CharField(verbose_name=_("reason"), max_length=64, blank=True)
    vendor_code = models.CharField(verbose_name=_("vendor code"), max_length=16, blank=True, db_index=True)
    # Whose code `vendor_code` is: an h5 session may end on Tencent's answer.
    outcome_vendor = models.CharField(verbose_name=_("outcome from vendor"), max_length=16, blank=True)
    scores = models.JSONField(verbose_name=_("scores"), default=dict, blank=True)
    retryable = models.BooleanField(verbose_name=_("retry allowed"), default=False)
    face_image = models.FileField(verbose_name=_("face image"), upload_to="faces/", blank=True)

    # What the person was asked to do on camera in the current attempt.
    challenge_kind = models.CharField(verbose_name=_("challenge"), max_length=16, blank=True)
    challenge_value = models.CharField(verbose_name=_("challenge value"), max_length=32, blank=True)
    # Set when something calls for a human look (a video chosen from files
    # may have been recorded earlier, or by someone else).
    needs_review = models.BooleanField(verbose_name=_("needs review"), default=False, db_index=True)

    created_at = models.DateTimeField(verbose_name=_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(verbose_name=_("completed"), null=True, blank=True)

    class Meta:
        verbose_name = _("verification session")
        ordering = ["-created_at"]
        permissions = [
            ("review_session", _("Can review sessions and decide on them")),
            ("view_media", _("Can play the videos and see the images of sessions")),
            ("view_full_identity", _("Can see full names and ID numbers")),
            ("export_sessions", _("Can export sessions and decisions as CSV")),
            ("purge_sessions", _("Can purge personal data and erase sessions")),
        ]

    def __str__(self):
        return f"{self.get_method_display()} {self.external_ref}"

    # --- saving only what changed ------------------------------------------
    # A session is saved many times along its flow; writing every column each
    # time re-encrypts the name and ID number and could write back a value
    # another process changed meanwhile (the vendor lease). save() without
    # update_fields writes the fields that differ from what was read.

    @classmethod
    def from_db(cls, db, field_names, values):
        session = super().from_db(db, field_names, values)
        session._remember_saved(None)
        return session

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)
        self._remember_saved(fields)

    def save(self, *args, **kwargs):
        # An emptied (purged) ID number keeps its hash: retention keeps hashes.
        if self.idcard:
            self.idcard_hash = crypto.search_hash(self.idcard)
        update_fields = kwargs.get("update_fields")
        if update_fields is None and self._saved is not None and not self._state.adding \
                and not kwargs.get("force_insert"):
            update_fields = kwargs["update_fields"] = self._changed_fields() | {"updated_at"}
        elif update_fields is not None and "idcard" in update_fields:
            update_fields = kwargs["update_fields"] = {*update_fields, "idcard_hash"}
        super().save(*args, **kwargs)
        self._remember_saved(update_fields)

    _saved = None  # attname → value as last read or written; None: not tracked

    def _remember_saved(self, field_names) -> None:
        saved = dict(self._saved or {})
        for field in self._meta.concrete_fields:
            named = field_names is None or field.name in field_names or field.attname in field_names
            if named and field.attname in self.__dict__:
                saved[field.attname] = self._comparable(field)
        self._saved = saved

    def _comparable(self, field):
        value = getattr(self, field.attname)
        if isinstance(value, FieldFile):
            return value.name
        return copy.deepcopy(value) if isinstance(value, (dict, list)) else value

    def _changed_fields(self) -> set[str]:
        return {
            field.name for field in self._meta.concrete_fields
            if not field.primary_key and field.attname in self.__dict__
            and self._saved.get(field.attname, _UNREAD) != self._comparable(field)
        }

    # --- state ------------------------------------------------------------

    def transition(self, new_status: str) -> None:
        """Moves to `new_status`, or raises IllegalTransition. Callers save."""
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

    def record_outcome(
        self, status: str, *, reason: str, vendor_code="", vendor="", retryable=False, scores=None
    ) -> None:
        if status not in self.OUTCOME_STATUSES:
            raise IllegalTransition(f"{status} is not an outcome")
        self.transition(status)
        self.passed = status == self.Status.PASSED
        self.reason = reason
        self.vendor_code = str(vendor_code)
        self.outcome_vendor = vendor
        self.retryable = retryable
        if scores:
            self.scores = {**self.scores, **scores}
        self.completed_at = timezone.now()

    def give_back_attempt(self) -> None:
        """The attempt under way used nothing billed: it does not count."""
        self.attempts_used = max(self.attempts_used - 1, 0)

    def begin_attempt(self) -> None:
        if not self.can_start_attempt:
            raise IllegalTransition("no attempt can start in this state")
        self.transition(self.Status.IN_PROGRESS)
        self.attempts_used += 1

    def claim_attempt(self) -> bool:
        """Begins an attempt and saves it in one conditional UPDATE, unless
        another request began one since this session was read: then False,
        and this object is read again. No lock is held."""
        seen = {"status": self.status, "attempts_used": self.attempts_used}
        self.begin_attempt()
        self.challenge_kind = self.challenge_value = ""
        return self._save_if_unchanged(seen)

    def record_link_expiry(self) -> bool:
        """Ends a session whose link has expired before the attempt had an
        outcome, in one conditional UPDATE: not if another process moved it
        on since it was read (then False, and this object is read again)."""
        seen = {"status": self.status}
        self.record_outcome(self.Status.EXPIRED, reason="link_expired")
        return self._save_if_unchanged(seen)

    def _save_if_unchanged(self, seen: dict) -> bool:
        """Writes what changed in memory where the row still holds `seen`."""
        self.updated_at = timezone.now()
        changed = self._changed_fields() | {"updated_at"}
        values = {name: getattr(self, self._meta.get_field(name).attname) for name in changed}
        if type(self).objects.filter(pk=self.pk, **seen).update(**values) != 1:
            self.refresh_from_db()
            return False
        self._remember_saved(changed)
        return True

    def take_return(self) -> bool:
        """The person's first return from the vendor's page since they were
        sent there, claimed in one conditional UPDATE: True for exactly one
        of any number of loads of the return address."""
        taken = type(self).objects.filter(
            pk=self.pk, vendor_token=self.vendor_token, awaiting_return=True
        ).update(awaiting_return=False)
        self.awaiting_return = False
        self._remember_saved({"awaiting_return"})
        return taken == 1

    def take_vendor_lease(self, seconds: int) -> bool:
        """Marks the row busy for `seconds` before a vendor call on its
        behalf, unless another process holds a lease: compare-and-set, so no
        lock is held during the call (on SQLite a held write lock would block
        the sandbox answering it). The lease lasts until this object's next
        save, which writes its end along with the answer, or end_vendor_lease()."""
        now = timezone.now()
        until = now + timedelta(seconds=seconds)
        # Only on the state this object saw: no other fetch has moved the
        # attempt on, or rescheduled its polling chain, since it was read.
        taken = (
            type(self).objects.filter(pk=self.pk, status=self.status, result_poll_due_at=self.result_poll_due_at)
            .exclude(vendor_busy_until__gt=now)
            .update(vendor_busy_until=until)
        )
        if taken != 1:
            return False
        self.vendor_busy_until = until
        self._remember_saved({"vendor_busy_until"})
        # Ended already in memory: the next save writes the end with the answer.
        self.vendor_busy_until = None
        return True

    def end_vendor_lease(self) -> None:
        """Ends the lease, unless a save since has ended it already."""
        self.vendor_busy_until = None
        if self._saved.get("vendor_busy_until") is not None:
            type(self).objects.filter(pk=self.pk).update(vendor_busy_until=None)
            self._remember_saved({"vendor_busy_until"})

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
    def retry_allowed(self) -> bool:
        return self.status != self.Status.CREATED and self.can_start_attempt

    def has_live_vendor_token(self, now=None) -> bool:
        now = now or timezone.now()
        return bool(self.vendor_token) and self.vendor_token_expires_at is not None and now < self.vendor_token_expires_at

    # --- display ----------------------------------------------------------

    @property
    def masked_name(self) -> str:
        return mask_name(self.realname)

    @property
    def masked_idcard(self) -> str:
        return mask_idcard(self.idcard)


class Handoff(models.Model):
    """A short link that continues one session on another device, shown as
    a QR code and as text to copy (a desktop, or a frame or in-app browser
    where the camera cannot work, hands over to a phone). It opens the
    session as its full link does, so it is random and dies soon."""

    LIFETIME = timedelta(minutes=30)
    # Lower case without 0/o and 1/l/i, as it may be typed from a screen:
    # 31^12 ≈ 2^59 codes, each alive for half an hour.
    ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
    CODE_LENGTH = 12

    session = models.ForeignKey(VerificationSession, on_delete=models.CASCADE, related_name="handoffs")
    code = models.CharField(max_length=16, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    opened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("hand-off link")

    @classmethod
    def new_code(cls) -> str:
        return "".join(secrets.choice(cls.ALPHABET) for _ in range(cls.CODE_LENGTH))

    def is_live(self, now=None) -> bool:
        return (now or timezone.now()) < self.expires_at


class VendorCall(models.Model):
    """One HTTP call to a vendor: kept whatever happened, so spend and
    failures can be traced. Summaries are redacted before they get here."""

    session = models.ForeignKey(
        VerificationSession, null=True, blank=True, on_delete=models.CASCADE, related_name="vendor_calls"
    )
    vendor = models.CharField(max_length=20)
    endpoint = models.CharField(max_length=100)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    vendor_code = models.CharField(max_length=16, blank=True)
    # True or False as the vendor defines billing; unknown (None) when the
    # answer never arrived after the request was sent.
    billed = models.BooleanField(null=True)
    request_id = models.CharField(max_length=64, blank=True, help_text=_("The vendor's request/task number."))
    error = models.CharField(max_length=255, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    request_summary = models.JSONField(default=dict, blank=True)
    response_summary = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("vendor call")
        ordering = ["created_at"]

    def __str__(self):
        return f"{self.vendor} {self.endpoint} {self.vendor_code or self.error}"


class Submission(models.Model):
    """One video or photo a person sent for one attempt: the original as
    received, the normalised file the vendor gets, and how far it got.
    An attempt is sent to a vendor at most once (unique per attempt, among
    the submissions not refused). One refused before sending stays, as
    evidence, and the attempt is given back for the next."""

    class Kind(models.TextChoices):
        VIDEO = "video", _("Video")
        PHOTO = "photo", _("Photo")

    # What the browser said; nothing checks it, so it can only add scrutiny.
    class Capture(models.TextChoices):
        RECORDER = "recorder", _("Recorded in the page (as the browser says)")
        FILE = "file", _("Chosen from files (as the browser says)")

    class State(models.TextChoices):
        RECEIVED = "received", _("Received")
        SENDING = "sending", _("Sending to the vendor")
        ANSWERED = "answered", _("Answered")
        UNANSWERED = "unanswered", _("Sent, no answer")
        REFUSED = "refused", _("Refused before sending")

    session = models.ForeignKey(VerificationSession, on_delete=models.CASCADE, related_name="submissions")
    # What media URLs carry: random, so nobody reaches a video by counting.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    attempt = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    capture = models.CharField(max_length=10, choices=Capture.choices)
    original = models.FileField(upload_to="originals/")
    normalised = models.FileField(upload_to="normalised/", blank=True)
    content_sha256 = models.CharField(max_length=64, db_index=True)
    # media.Fingerprint.as_text(): a recording sent again, re-encoded or not,
    # has a near one. Looked up through its FingerprintBand rows.
    fingerprint = models.CharField(max_length=80, blank=True)
    facts = models.JSONField(default=dict, blank=True)
    challenge_kind = models.CharField(max_length=16, blank=True)
    challenge_value = models.CharField(max_length=32, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.RECEIVED)
    refusal = models.CharField(max_length=32, blank=True)  # why it was refused: a media.MediaRejected code
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("submission")
        constraints = [
            models.UniqueConstraint(
                fields=["session", "attempt"], condition=~models.Q(state="refused"), name="one_submission_per_attempt"
            )
        ]

    def __str__(self):
        return f"{self.kind} #{self.attempt} of {self.session_id}"

    def refuse(self, code: str) -> None:
        """Refused before it reached a vendor (normalising failed, or a
        recording sent before): kept, and no longer holding its attempt."""
        if self.state != self.State.RECEIVED:
            raise IllegalTransition(f"a {self.state} submission cannot be refused")
        self.state = self.State.REFUSED
        self.refusal = code
        self.save(update_fields=["state", "refusal"])


class FingerprintBand(models.Model):
    """One 16-bit band of a submission's fingerprint, under its API client
    (sessions without a client share one group): a copy of a recording
    shares at least one band with it, so the index finds the few candidates
    to compare in full (media.Fingerprint.band_keys)."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="fingerprint_bands")
    client = models.ForeignKey(ApiClient, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=12)

    class Meta:
        indexes = [models.Index(fields=["client", "key"], name="fingerprint_band_lookup")]


class SessionImage(models.Model):
    """Faces a vendor gave back: best frames, comparison photos, pictures."""

    class Kind(models.TextChoices):
        BEST_FRAME = "best_frame", _("Best frame")
        VENDOR_PHOTO = "vendor_photo", _("Vendor comparison photo")
        VENDOR_PICTURE = "vendor_picture", _("Vendor picture")

    session = models.ForeignKey(VerificationSession, on_delete=models.CASCADE, related_name="images")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)  # as Submission's
    attempt = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    image = models.FileField(upload_to="images/")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("session image")


class AuditEntry(models.Model):
    """Who saw or did what. Append-only: the model refuses updates and
    deletes, the admin offers neither, and on PostgreSQL a trigger refuses
    them in the database too (migration 0010_audit_append_only)."""

    class Action(models.TextChoices):
        VIEW_SESSION = "view_session", _("Viewed a session")
        VIEW_IDENTITY = "view_identity", _("Viewed full name and ID number")
        VIEW_MEDIA = "view_media", _("Viewed media")
        DECIDE = "decide", _("Decided")
        EXPORT = "export", _("Exported")
        PURGE = "purge", _("Purged personal data")
        ERASE = "erase", _("Erased on request")
        # `detail` holds the keyed hash of the number searched, never the number.
        SEARCH_IDENTITY = "search_identity", _("Searched by ID number")
        SEARCH_REFUSED = "search_refused", _("Refused a search by ID number")
        ROTATE_API_KEY = "rotate_api_key", _("Rotated an API key")
        REVOKE_API_KEYS = "revoke_api_keys", _("Revoked API keys")

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_name = models.CharField(max_length=150, help_text=_("Kept if the user is deleted; 'system' for tasks."))
    action = models.CharField(max_length=20, choices=Action.choices, db_index=True)
    session_ref = models.UUIDField(null=True, blank=True, db_index=True,
                                   help_text=_("The session's id; kept after the session is erased."))
    detail = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise IllegalTransition("audit entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise IllegalTransition("audit entries cannot be deleted")


class ReviewDecision(models.Model):
    """A reviewer's decision on a session, with the required note. Under the
    four-eyes rule a decision may wait for a second reviewer's confirmation."""

    class Decision(models.TextChoices):
        APPROVE = "approve", _("Approve")
        REJECT = "reject", _("Reject")
        RETRY = "retry", _("Ask the person to try again")

    session = models.ForeignKey(VerificationSession, on_delete=models.CASCADE, related_name="decisions")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    note = models.TextField()
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    needs_second_reviewer = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("review decision")
        ordering = ["created_at"]

    def __str__(self):
        return f"{self.get_decision_display()} by {self.reviewer}"

    @property
    def is_final(self) -> bool:
        return not self.needs_second_reviewer or self.confirmed_by_id is not None


class LoginFailure(models.Model):
    """A failed admin login, counted by the login throttle."""

    username = models.CharField(max_length=150, db_index=True)
    ip = models.GenericIPAddressField(null=True, db_index=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("failed login")


class WebhookMessage(models.Model):
    """One event for an integrator's webhook URL (Standard Webhooks). Every
    attempt of it carries the same `msg_id`, so a receiver can drop repeats;
    `sequence` grows with each event of a session, so it can drop stale ones."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="webhook_messages")
    session = models.ForeignKey(
        VerificationSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="webhook_messages"
    )
    msg_id = models.CharField(max_length=40, unique=True, editable=False)
    event_type = models.CharField(max_length=40, db_index=True)
    sequence = models.PositiveIntegerField()
    payload = models.JSONField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("webhook message")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["session", "sequence"], name="one_webhook_per_sequence")]

    def __str__(self):
        return f"{self.event_type} #{self.sequence} {self.msg_id}"


class WebhookAttempt(models.Model):
    """One POST of a webhook message, whatever happened."""

    message = models.ForeignKey(WebhookMessage, on_delete=models.CASCADE, related_name="attempt_rows")
    attempt = models.PositiveSmallIntegerField()
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("webhook attempt")
        ordering = ["attempt", "created_at"]

    def __str__(self):
        return f"#{self.attempt} {self.http_status or self.error}"
