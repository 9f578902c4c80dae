"""State of the vendor emulators.

It lives in the database, not in memory, because several web processes may
serve the sandbox and the vendor's browser page and server API are different
requests that can land on different processes.
"""

from datetime import timedelta

from django.db import models
from django.utils import timezone


class JumdataTask(models.Model):
    """One Jumdata H5 liveness check, from `init` until its token dies."""

    class Outcome(models.TextChoices):
        # What the tester chose on the emulated page. ABANDON is kept (rather
        # than leaving the row untouched) so the first button press is final
        # whatever it was; `result` reports it as "no result yet" (201).
        PASS = "pass", "passed (200)"
        FAIL = "fail", "not passed (202)"
        ERROR = "error", "check failed (203)"
        ABANDON = "abandon", "left without finishing (201)"

    token = models.CharField(max_length=64, unique=True)
    app_id = models.CharField(max_length=64)
    # The taskNo that `init` answered with, to match sandbox rows to portal logs.
    init_task_no = models.CharField(max_length=24)
    return_url = models.CharField(max_length=128)
    # Comma lists exactly as validated; action order matters to the vendor.
    actions = models.CharField(max_length=255, blank=True)
    colors = models.CharField(max_length=255, blank=True)
    # A default rather than auto_now_add so tests can age a task.
    created_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)
    # The face image URL carries this random value, not the token or a
    # taskNo, so knowing either does not reveal the picture.
    face_token = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self):
        return f"Jumdata task {self.init_task_no} ({self.outcome or 'no outcome'})"

    def expires_at(self, ttl_seconds):
        return self.created_at + timedelta(seconds=ttl_seconds)

    def is_expired(self, ttl_seconds, now=None):
        return (now or timezone.now()) >= self.expires_at(ttl_seconds)

    @property
    def action_list(self):
        return self.actions.split(",") if self.actions else []

    @property
    def color_list(self):
        return self.colors.split(",") if self.colors else []


class TencentLipCode(models.Model):
    """A 4-digit lip code handed out by Tencent `livegetfour`.

    A detection call must quote one this appid was given; the first call that
    gets as far as a verdict uses it up (see sandbox/tencent.py).
    """

    app_id = models.CharField(max_length=32)
    validate_data = models.CharField(max_length=4)
    # The caller's optional `seq`, kept only to match sandbox rows to logs.
    seq = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = (models.Index(fields=("app_id", "validate_data"), name="sandbox_lip_app_code"),)

    def __str__(self):
        return f"Tencent lip code for {self.app_id} ({'used' if self.used_at else 'unused'})"


class SteeredAnswer(models.Model):
    """An answer a tester queued for the next call to one vendor endpoint.

    Consumed once, first in first out, by the next call that passes the
    endpoint's signature/key and input checks; it dies unused after
    SANDBOX_STEER_TTL seconds so a forgotten one cannot surprise a later test.
    """

    class Vendor(models.TextChoices):
        TENCENT = "tencent", "Tencent"
        JUHE = "juhe", "Juhe"
        FACEID = "faceid", "Tencent Cloud FaceID"

    vendor = models.CharField(max_length=16, choices=Vendor.choices)
    endpoint = models.CharField(max_length=32)
    # What to answer, as validated by the steering view: for example
    # {"code": -5002} or {"live_status": 0, "compare_status": 0, "sim": 42}.
    answer = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    consumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("created_at", "id")
        indexes = (models.Index(fields=("vendor", "endpoint", "consumed_at"), name="sandbox_steer_next"),)

    def __str__(self):
        return f"{self.vendor} {self.endpoint}: {self.answer}"

    @classmethod
    def live(cls, vendor, ttl_seconds, endpoint=None):
        """The answers still waiting for a call, oldest first."""
        rows = cls.objects.filter(
            vendor=vendor,
            consumed_at__isnull=True,
            created_at__gt=timezone.now() - timedelta(seconds=ttl_seconds),
        )
        return rows.filter(endpoint=endpoint) if endpoint else rows

    @classmethod
    def take(cls, vendor, endpoint, ttl_seconds):
        """Consume the oldest waiting answer for the endpoint; None if none.

        The conditional update makes "consumed once" hold across processes:
        of two calls racing for one answer, one gets it and the other moves
        on to the next (or to the endpoint's normal answer).
        """
        for _ in range(10):
            row = cls.live(vendor, ttl_seconds, endpoint).order_by("created_at", "id").first()
            if row is None:
                return None
            if cls.objects.filter(pk=row.pk, consumed_at__isnull=True).update(consumed_at=timezone.now()):
                return row.answer
        return None


class JuhePicture(models.Model):
    """A frame of a video sent to Juhe videoAuth, served at a `pictures` URL.

    Kept in the database (not on disk) so any web process can serve it; the
    URL carries two random values and dies after SANDBOX_JUHE_PICTURE_TTL.
    """

    order_id = models.CharField(max_length=40)
    name = models.CharField(max_length=64, unique=True)
    token = models.CharField(max_length=32)
    image = models.BinaryField()
    # A default rather than auto_now_add so tests can age a picture.
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("order_id", "id")

    def __str__(self):
        return f"Juhe picture {self.name} of {self.order_id}"


class ReceivedWebhook(models.Model):
    """One delivery that reached the demo integrator's webhook receiver.

    Every delivery is kept, forged, stale and repeated ones included, exactly
    as received: the point of the demo is to watch what the portal sends.
    Headers and body are untrusted text; the parsed fields are only filled
    when the body could be read, verified or not (the page says which).
    """

    msg_id = models.CharField(max_length=255, blank=True)
    timestamp_header = models.CharField(max_length=64, blank=True)
    signature_header = models.TextField(blank=True)
    body = models.TextField(blank=True)
    event_type = models.CharField(max_length=64, blank=True)
    session_id = models.CharField(max_length=64, blank=True)
    sequence = models.BigIntegerField(null=True, blank=True)
    # data.status of session.completed (data.review_status of session.reviewed).
    status = models.CharField(max_length=32, blank=True)
    # True only when every check passed: headers, timestamp, signature, JSON.
    verified = models.BooleanField(default=False)
    # Why it was refused ("" when verified).
    problem = models.CharField(max_length=255, blank=True)
    # A verified repeat of a webhook-id we had already accepted (answered 2xx).
    duplicate = models.BooleanField(default=False)
    # What the receiver answered: 204, 400, 413, or 503 while failing on purpose.
    answered_status = models.PositiveSmallIntegerField()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-received_at", "-id")
        indexes = (models.Index(fields=("msg_id",), name="sandbox_webhook_msg_id"),)

    def __str__(self):
        return f"webhook {self.msg_id or '(no id)'} {self.event_type or '?'} → {self.answered_status}"


class WebhookOutage(models.Model):
    """How many of the next deliveries the demo receiver answers with 503.

    One row (pk 1). In the database because the portal's worker may deliver
    to any web process.
    """

    remaining = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"webhook outage: {self.remaining} deliveries to fail"

    @classmethod
    def fail_next(cls, count):
        cls.objects.update_or_create(pk=1, defaults={"remaining": count})

    @classmethod
    def pending(cls):
        row = cls.objects.filter(pk=1).first()
        return row.remaining if row else 0

    @classmethod
    def take(cls):
        """True when this delivery is to fail; the conditional update makes
        "the next N" hold when deliveries race across processes."""
        return bool(cls.objects.filter(pk=1, remaining__gt=0).update(remaining=models.F("remaining") - 1))


class VendorTrouble(models.Model):
    """The fault every emulated vendor shows until `until` (one row, pk 1);
    see trouble.py."""

    error_rate = models.FloatField(default=0)
    hang_seconds = models.FloatField(default=0)
    until = models.DateTimeField()

    @classmethod
    def current(cls):
        return cls.objects.filter(pk=1, until__gt=timezone.now()).first()


class IntegratorAccount(models.Model):
    """The demo integrator's account at the portal: the API key its backend
    sends and the secret its webhook receiver checks. The portal prints
    both once; the sandbox keeps them here, as a product team keeps its
    key in a secret store of its own, never in source. One row (pk 1),
    renewed after every migrate (integrator_account.py). Test credentials:
    a portal in live mode refuses the key."""

    api_key = models.CharField(max_length=100)
    webhook_secret = models.CharField(max_length=100)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"demo integrator account (key {self.api_key[:13]}…, {self.updated_at:%Y-%m-%d %H:%M})"

    @classmethod
    def current(cls):
        return cls.objects.filter(pk=1).first()


class FaceIdCheck(models.Model):
    """One FaceID `DetectAuth` (a BizToken) and what its emulated H5 page
    recorded (sandbox/faceid.py)."""

    class Outcome(models.TextChoices):
        # What the tester chose on the emulated page; the first choice is final.
        PASS = "pass", "passed (ErrCode 0)"
        NOT_LIVE = "not_live", "not live (ErrCode 1002)"
        FACE_MISMATCH = "face_mismatch", "not the same person (ErrCode 2016)"
        IDENTITY_MISMATCH = "identity_mismatch", "name and ID number do not match (ErrCode 2006)"
        LIP_MISREAD = "lip_misread", "digits not recognised (ErrCode 1101)"
        CANCEL = "cancel", "left without finishing (ErrCode 17)"

    biz_token = models.CharField(max_length=64, unique=True)
    secret_id = models.CharField(max_length=64)
    rule_id = models.CharField(max_length=32)
    redirect_url = models.CharField(max_length=1024, blank=True)
    id_card = models.CharField(max_length=18, blank=True)
    name = models.CharField(max_length=32, blank=True)
    extra = models.CharField(max_length=1024, blank=True)
    # A default rather than auto_now_add so tests can age a check.
    created_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self):
        return f"FaceID check {self.biz_token[:8]}… ({self.outcome or 'no outcome'})"


class FaceIdLiveCode(models.Model):
    """Digits handed out by FaceID `GetLiveCode` to one SecretId; the first
    liveness call that reaches a verdict uses them up."""

    secret_id = models.CharField(max_length=64)
    live_code = models.CharField(max_length=8)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self):
        return f"FaceID live code ({'used' if self.used_at else 'unused'})"
