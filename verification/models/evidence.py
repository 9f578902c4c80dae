"""What each attempt left behind: the files a person sent, the images a
vendor gave back, every call made to a vendor, and the fingerprints that
find a recording sent again."""

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..domain.errors import IllegalTransition
from .clients import ApiClient
from .sessions import VerificationSession


class VendorCall(models.Model):
    """One HTTP call to a vendor: kept whatever happened, so spend and
    failures can be traced. Summaries are redacted before they get here."""

    session = models.ForeignKey(
        VerificationSession, null=True, blank=True, on_delete=models.CASCADE, related_name="vendor_calls"
    )
    vendor = models.CharField(max_length=20)
    endpoint = models.CharField(max_length=100)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    vendor_code = models.CharField(max_length=64, blank=True)
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
        verbose_name_plural = _("vendor calls")
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
        # The video a vendor's own page recorded, fetched from the vendor
        # with its verdict (FaceID's GetDetectInfoEnhanced); never sent on.
        VENDOR_PAGE = "vendor", _("Recorded on the vendor's page")

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
    # What the browser said about the capture (services.capture): device
    # labels, track settings, recorder type, page visibility. Empty when it
    # said nothing. Evidence for the reviewer; never a reason to pass.
    capture_report = models.JSONField(default=dict, blank=True)
    challenge_kind = models.CharField(max_length=16, blank=True)
    challenge_value = models.CharField(max_length=32, blank=True)
    # When the challenge it answers was issued (created_at is when it came).
    challenge_issued_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.RECEIVED)
    refusal = models.CharField(max_length=32, blank=True)  # why it was refused: a media.MediaRejected code
    sent_at = models.DateTimeField(null=True, blank=True)
    # While `sending`, the sending worker writes the time here every few
    # seconds (services.recorded): a silent one has died mid-call.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("submission")
        verbose_name_plural = _("submissions")
        constraints = [
            models.UniqueConstraint(
                fields=["session", "attempt"], condition=~models.Q(state="refused"), name="one_submission_per_attempt"
            )
        ]

    def __str__(self):
        return f"{self.kind} #{self.attempt} of {self.session_id}"

    def claim_for_sending(self) -> bool:
        """Marks a received submission as being sent, in one conditional
        UPDATE: False when another worker claimed it first."""
        now = timezone.now()
        claimed = type(self).objects.filter(pk=self.pk, state=self.State.RECEIVED).update(
            state=self.State.SENDING, sent_at=now, heartbeat_at=now
        )
        if claimed:
            self.state, self.sent_at, self.heartbeat_at = self.State.SENDING, now, now
        return claimed == 1

    @classmethod
    def beat(cls, pk: int) -> bool:
        """The sending worker is alive: False once the submission is no
        longer `sending` (answered, or given up by another worker)."""
        return cls.objects.filter(pk=pk, state=cls.State.SENDING).update(heartbeat_at=timezone.now()) == 1

    def set_aside(self, code: str) -> bool:
        """Claimed but never billed (its vendor was down and the session
        moved to another vendor's method): kept, refused, never to be sent,
        and no longer holding its attempt. Only from `sending`."""
        set_aside = type(self).objects.filter(pk=self.pk, state=self.State.SENDING).update(
            state=self.State.REFUSED, refusal=code, heartbeat_at=None
        ) == 1
        if set_aside:
            self.state, self.refusal = self.State.REFUSED, code
        return set_aside

    def release_unsent(self) -> bool:
        """The request never left (no connection): received again, to be
        retried. False when it was given up meanwhile (it then stays so)."""
        released = type(self).objects.filter(pk=self.pk, state=self.State.SENDING).update(
            state=self.State.RECEIVED, sent_at=None, heartbeat_at=None
        ) == 1
        if released:
            self.state, self.sent_at, self.heartbeat_at = self.State.RECEIVED, None, None
        return released

    def record_sent(self, *, answered: bool) -> bool:
        """Sent; `answered` False when no answer came back (it may have been
        billed). Only from `sending`: False when another worker gave the
        submission up meanwhile (its sender looked dead), which then stands."""
        state = self.State.ANSWERED if answered else self.State.UNANSWERED
        recorded = type(self).objects.filter(pk=self.pk, state=self.State.SENDING).update(state=state) == 1
        if recorded:
            self.state = state
        return recorded

    @classmethod
    def give_up_unanswered(cls, pk: int, *, sent_before, silent_since=None) -> bool:
        """A submission still `sending` whose worker wrote no heartbeat since
        `silent_since`, or sent before `sent_before` (alive but hung), was
        left by a worker that died mid-call: counted as sent and never
        answered, in one conditional UPDATE (one of several watchdogs wins)."""
        stale = models.Q(sent_at__lte=sent_before)
        if silent_since is not None:
            stale |= models.Q(heartbeat_at__lte=silent_since)
            stale |= models.Q(heartbeat_at__isnull=True, sent_at__lte=silent_since)
        return cls.objects.filter(stale, pk=pk, state=cls.State.SENDING).update(state=cls.State.UNANSWERED) == 1

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
        verbose_name_plural = _("session images")
