"""What the person is told about their session: never a score or a
vendor's own answer, and never a dead end."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from .. import vendors
from ..models import VerificationSession

REPLAYED_MESSAGE = _("This recording was already sent. Please record a new one.")
STORAGE_DOWN_MESSAGE = _("We could not keep your recording just now. Please try again in a moment.")
DATABASE_DOWN_MESSAGE = _("The service is briefly unavailable. Please try again in a moment.")

GENERIC_MESSAGES = {
    "created": _("Ready to start."),
    "in_progress": _("The check is under way."),
    "awaiting_result": _("We are fetching your result. This usually takes a few seconds."),
    # Said only where it is true: the attempt ended, nothing was billed, and
    # the page (static/js/outage.js) keeps asking whether the service is back.
    "vendor_unavailable": _(
        "The verification service is not answering right now. Nothing was charged and your attempt was not used. "
        "This page keeps checking and tells you when you can try again."
    ),
    "vendor_rejected": _("The verification service could not process this check. Please try again later."),
    "link_expired": _("This verification link has expired. Ask for a new one."),
    "passed": _("Verification complete. You may close this page."),
    "not_live": _("The liveness check did not pass. Face the camera in good light and try again."),
    "face_mismatch": _("Your face could not be matched. Face the camera in good light, without glasses or a mask, and try again."),
    "vendor_timeout": _("The verification service did not answer in time. Please try again."),
    "unreadable": _("This video cannot be read. Please record it again."),
    "too_large": _("The video is too large. Record for about 6 seconds."),
    "too_long": _("The video is too long. Record for about 6 seconds (at most 10)."),
    "replayed": REPLAYED_MESSAGE,
    "storage_unavailable": STORAGE_DOWN_MESSAGE,
    "database_unavailable": DATABASE_DOWN_MESSAGE,
    "declined": _("You declined the verification. Nothing more was recorded."),
    "cancelled_by_client": _("This verification was cancelled by the company that asked for it."),
    "identity_mismatch": _("The name and ID number do not match. Please contact the service that sent you here."),
    "identity_unverifiable": _("This ID number cannot be checked. Please contact the service that sent you here."),
    "lip_code_mismatch": _("We could not recognise the numbers you read. Read the four numbers slowly and clearly."),
    "poor_recording": _("We could not check this recording. Please record again in good light, facing the camera."),
    "not_finished": _("The check on Tencent's page was not finished."),
}


@dataclass(frozen=True)
class UserStatus:
    status: str
    message: str
    retry_allowed: bool


def link_expiry_applies(session: VerificationSession) -> bool:
    """An expired link ends a session that has no outcome and waits for
    nobody: not one whose result is being fetched (`processing`), nor a
    hosted-page attempt whose vendor token still lives (its polling chain
    records the billed outcome, or the token's expiry)."""
    return (
        session.is_link_expired
        and session.status in (session.Status.CREATED, session.Status.IN_PROGRESS)
        and not session.has_live_vendor_token()
    )


def session_user_status(session: VerificationSession) -> UserStatus:
    """What the end user sees of the session. A link past its expiry shows
    as expired before the sweep has recorded it (pages never write)."""
    if link_expiry_applies(session):
        return UserStatus(status=session.Status.EXPIRED, message=str(GENERIC_MESSAGES["link_expired"]),
                          retry_allowed=False)
    return UserStatus(status=session.status, message=str(user_message(session)), retry_allowed=session.retry_allowed)


# While a hosted check's result is being fetched, the worker keeps asking
# the vendor and the page (static/js/status-poll.js) follows by itself.
STILL_ASKING_MESSAGE = _(
    "The verification service is not answering right now. We keep asking it for your result; this page updates by itself."
)


def user_message(session: VerificationSession):
    if session.status == session.Status.PROCESSING and session.reason == "vendor_unavailable":
        return STILL_ASKING_MESSAGE
    if session.status == session.Status.CREATED:
        return GENERIC_MESSAGES["created"]
    if session.status == session.Status.IN_PROGRESS:
        return GENERIC_MESSAGES["in_progress"]
    if session.status == session.Status.PASSED:
        return GENERIC_MESSAGES["passed"]
    known = vendors.describe(session.outcome_vendor, session.vendor_code) if session.vendor_code not in ("", "0") else None
    # A code that is no refusal of its own (FaceID's "Success" with a Sim
    # under the threshold) says nothing: the reason speaks.
    message = (known.message if known is not None and known.message
               else GENERIC_MESSAGES.get(session.reason, GENERIC_MESSAGES["vendor_rejected"]))
    if session.status in session.OUTCOME_STATUSES and not session.retry_allowed and session.status != "passed":
        if session.reason not in ("link_expired", "declined", "cancelled_by_client"):
            return _("%(message)s No further attempt is possible for this verification.") % {"message": message}
    return message
