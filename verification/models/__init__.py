"""The portal's records and their state transitions (Django finds the
models here). Each module holds one concern; this one names them all."""

from .clients import ApiClient, ApiKey, KeyRefused
from .evidence import FingerprintBand, SessionImage, Submission, VendorCall
from .handoffs import Handoff
from .idempotency import IdempotencyKey
from .oversight import AuditEntry, CaseNote, LoginFailure, ReviewDecision
from .sessions import VerificationSession
from .webhooks import WebhookAttempt, WebhookMessage

__all__ = [
    "ApiClient", "ApiKey", "AuditEntry", "CaseNote", "FingerprintBand", "Handoff", "IdempotencyKey", "KeyRefused",
    "LoginFailure",
    "ReviewDecision", "SessionImage", "Submission", "VendorCall", "VerificationSession", "WebhookAttempt",
    "WebhookMessage",
]
