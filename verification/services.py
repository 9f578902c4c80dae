"""The verification flows, one function per step. Views and tasks call these;
these call the vendor clients and let the session model guard its states."""

import base64
import binascii
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .idcard import idcard_error, normalise_idcard
from .models import Method, VerificationSession
from .vendors import jumdata
from .vendors.base import VendorError, backoff_seconds, should_retry, vendor_call

logger = logging.getLogger(__name__)

AVAILABLE_METHODS = (Method.H5,)
METHODS_NEEDING_IDENTITY = (Method.TENCENT_IDCARD, Method.JUHE_VIDEO_AUTH)
OPTION_KEYS = {Method.H5: {"actions", "colors"}}
REFERENCE_PHOTO_MAX_BYTES = 5 * 1024 * 1024
EXTERNAL_REF_MAX_LENGTH = 128
VENDOR_LEASE_SECONDS = 60
# Polls of Jumdata `result` right after the user came back without a final
# answer (1 + 2 + 4 + 8 + 16 s); after that only the reconciliation near the
# token's expiry asks again.
H5_QUICK_POLLS = 5
LOCALE_ALIASES = {"zh": "zh-hans", "zh-cn": "zh-hans", "zh-hans": "zh-hans", "en": "en", "en-us": "en", "en-gb": "en"}


class InvalidInput(Exception):
    """Input that cannot make a session; `fields` says what is wrong where."""

    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


class StepRefused(Exception):
    """An end-user step asked for at the wrong time (before consent, after the
    link expired, …). `message` is shown to the user; `http_status` is 4xx."""

    def __init__(self, message, *, http_status: int = 409):
        super().__init__(str(message))
        self.message = message
        self.http_status = http_status


# --- creating sessions -----------------------------------------------------------


def session_create(
    *,
    client,
    method: str,
    external_ref: str,
    realname: str = "",
    idcard: str = "",
    reference_photo: str = "",
    options: dict | None = None,
    return_url: str = "",
    locale: str = "",
) -> VerificationSession:
    """Validates everything before anything is stored; raises InvalidInput."""
    errors = {}
    if method not in Method.values:
        errors["method"] = f"unknown method; one of {', '.join(Method.values)}"
    elif method not in AVAILABLE_METHODS:
        errors["method"] = f"{method} is not available yet on this portal"
    if not isinstance(external_ref, str) or not external_ref.strip():
        errors["external_ref"] = "required"
    elif len(external_ref) > EXTERNAL_REF_MAX_LENGTH:
        errors["external_ref"] = f"at most {EXTERNAL_REF_MAX_LENGTH} characters"

    realname = realname.strip() if isinstance(realname, str) else realname
    idcard = normalise_idcard(idcard) if isinstance(idcard, str) else idcard
    if not isinstance(realname, str) or len(realname) > 64:
        errors["realname"] = "a name of at most 64 characters"
    if not isinstance(idcard, str):
        errors["idcard"] = "must be a string"
    elif idcard and (problem := idcard_error(idcard)):
        errors["idcard"] = f"not a valid Chinese ID number: it {problem}"
    if not errors.keys() & {"realname", "idcard"}:
        if method in METHODS_NEEDING_IDENTITY and not (realname and idcard):
            errors["realname" if not realname else "idcard"] = f"required for {method}"
        elif bool(realname) != bool(idcard):
            errors["realname" if not realname else "idcard"] = "realname and idcard go together"

    photo_bytes = None
    if reference_photo:
        photo_bytes, problem = _decode_photo(reference_photo)
        if problem:
            errors["reference_photo"] = problem
        elif method != Method.TENCENT_LIP:
            errors["reference_photo"] = "only the tencent_lip method compares against a reference photo"

    options = options if options is not None else {}
    if not isinstance(options, dict):
        errors["options"] = "must be an object"
    elif "method" not in errors:
        options, option_errors = _clean_options(method, options)
        errors.update(option_errors)

    if return_url and (not isinstance(return_url, str) or not return_url.startswith(("https://", "http://"))):
        errors["return_url"] = "must be an http(s) URL"
    if locale and (not isinstance(locale, str) or locale.lower() not in LOCALE_ALIASES):
        errors["locale"] = "zh-hans or en"
    if errors:
        raise InvalidInput(errors)

    session = VerificationSession(
        client=client,
        method=method,
        external_ref=external_ref.strip(),
        realname=realname,
        idcard=idcard,
        options=options,
        return_url=return_url,
        locale=LOCALE_ALIASES[locale.lower()] if locale else settings.LANGUAGE_CODE,
        max_attempts=settings.KYC_MAX_ATTEMPTS,
    )
    if photo_bytes:
        extension = "png" if photo_bytes.startswith(b"\x89PNG") else "jpg"
        session.reference_photo.save(f"{session.id}.{extension}", ContentFile(photo_bytes), save=False)
    session.save()
    logger.info("session created id=%s method=%s", session.id, method)
    return session


def _decode_photo(data) -> tuple[bytes | None, str]:
    if not isinstance(data, str):
        return None, "must be a base64 string"
    if len(data) > REFERENCE_PHOTO_MAX_BYTES * 4 // 3 + 4:
        return None, f"at most {REFERENCE_PHOTO_MAX_BYTES // (1024 * 1024)} MB"
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None, "is not valid base64"
    if not (raw.startswith(b"\xff\xd8\xff") or raw.startswith(b"\x89PNG\r\n\x1a\n")):
        return None, "must be a JPEG or PNG image"
    return raw, ""


def _clean_options(method: str, options: dict) -> tuple[dict, dict]:
    allowed = OPTION_KEYS.get(method, set())
    unknown = sorted(set(options) - allowed)
    if unknown:
        return options, {"options": f"unknown option(s) for {method}: {', '.join(unknown)}"}
    cleaned, errors = {}, {}
    for key in ("actions", "colors"):
        value = options.get(key)
        if value in (None, "", []):
            continue
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
            errors[f"options.{key}"] = "a list of names (or one comma-separated string)"
            continue
        cleaned[key] = [i.strip() for i in items]
    if not errors:
        errors = {
            f"options.{k}": v
            for k, v in jumdata.options_errors(
                actions=cleaned.get("actions", ()), colors=cleaned.get("colors", ())
            ).items()
        }
    return cleaned, errors


# --- end-user steps ----------------------------------------------------------


def session_give_consent(*, session: VerificationSession, ip: str | None, user_agent: str) -> None:
    _refuse_if_link_expired(session)
    if session.has_consent:
        return
    session.consent_at = timezone.now()
    session.consent_ip = ip
    session.consent_user_agent = user_agent[:512]
    session.consent_version = settings.KYC_CONSENT_VERSION
    session.save(update_fields=["consent_at", "consent_ip", "consent_user_agent", "consent_version", "updated_at"])


def session_start_h5(*, session: VerificationSession, return_url: str) -> str:
    """Where to send the browser: the vendor's page for the current attempt,
    starting a new (billed) attempt only when none is running."""
    if session.method != Method.H5:
        raise StepRefused(_("This verification does not use the H5 page."), http_status=400)
    _refuse_if_link_expired(session)
    if not session.has_consent:
        raise StepRefused(_("Please agree to the processing of your data first."), http_status=403)
    client = jumdata.JumdataClient.from_settings(session=session)
    in_flight = session.status in (session.Status.IN_PROGRESS, session.Status.PROCESSING)
    if in_flight and session.has_live_vendor_token():
        return client.html_url(session.vendor_token)
    if not session.can_start_attempt:
        raise StepRefused(_("No further attempt is possible for this verification."), http_status=409)

    with transaction.atomic():
        locked = VerificationSession.objects.select_for_update().get(pk=session.pk)
        if locked.attempts_used != session.attempts_used or locked.status != session.status:
            raise StepRefused(_("This verification was started in another window."), http_status=409)
        session.begin_attempt()
        session.save(update_fields=["status", "attempts_used", "passed", "reason", "vendor_code", "retryable",
                                    "completed_at", "updated_at"])

    try:
        started = client.init(
            return_url=return_url,
            actions=session.options.get("actions", ()),
            colors=session.options.get("colors", ()),
        )
    except VendorError as error:
        if error.billed is False:
            session.attempts_used -= 1  # nothing was billed: the attempt is given back
        session.record_outcome(
            session.Status.ERROR,
            reason="vendor_rejected" if error.code else "vendor_unavailable",
            vendor_code=error.code or "",
            retryable=not error.permanent,
        )
        session.save()
        return ""

    session.vendor_token = started.token
    session.vendor_task_no = started.task_no
    session.vendor_token_expires_at = timezone.now() + timedelta(seconds=jumdata.TOKEN_TTL_SECONDS)
    session.save(update_fields=["vendor_token", "vendor_task_no", "vendor_token_expires_at", "updated_at"])
    _schedule_h5_collection(session, at=_h5_reconcile_at(session.vendor_token_expires_at), tries=0)
    return client.html_url(started.token)


def session_collect_h5_result(*, session_id, vendor_token: str, tries: int = 0) -> VerificationSession:
    """Asks Jumdata for the result of one attempt and records it. Safe to call
    any number of times from anywhere: once the attempt has its answer, or
    while another process is asking, the vendor is not called."""
    session = VerificationSession.objects.get(pk=session_id)
    if session.vendor_token != vendor_token or session.status not in (
        session.Status.IN_PROGRESS,
        session.Status.PROCESSING,
    ):
        return session
    if not _take_vendor_lease(session):
        return session
    try:
        client = jumdata.JumdataClient.from_settings(session=session)
        try:
            result = client.fetch_result(vendor_token)
        except VendorError as error:
            _after_unanswered_result(session, error=error, tries=tries)
        else:
            _apply_h5_result(session, result, tries=tries)
    finally:
        _release_vendor_lease(session)
    return session


def _apply_h5_result(session: VerificationSession, result: jumdata.JumdataResult, *, tries: int) -> None:
    Outcome = jumdata.H5Outcome
    session.vendor_code = str(result.code)
    if result.outcome is Outcome.PENDING:
        if session.status == session.Status.IN_PROGRESS:
            session.transition(session.Status.PROCESSING)
        session.reason = "awaiting_result"
        session.save()
        _schedule_next_h5_collection(session, tries=tries, last_answer="pending")
        return
    if result.outcome is Outcome.PASSED:
        session.record_outcome(session.Status.PASSED, reason="passed", vendor_code=result.code)
        session.save()
        if result.face_image_url:
            _store_face_image(session, result.face_image_url)
        return
    status, reason = {
        Outcome.NOT_PASSED: (session.Status.FAILED, "not_passed"),
        Outcome.CHECK_FAILED: (session.Status.FAILED, "check_failed"),
        Outcome.TOKEN_EXPIRED: (session.Status.EXPIRED, "token_expired"),
    }[result.outcome]
    session.record_outcome(status, reason=reason, vendor_code=result.code, retryable=True)
    session.save()


def _after_unanswered_result(session: VerificationSession, *, error: VendorError, tries: int) -> None:
    if should_retry(error, retryable_codes=jumdata.RESULT_RETRY_CODES, billed_call=False):
        if session.status == session.Status.IN_PROGRESS:
            session.transition(session.Status.PROCESSING)
        session.reason = "vendor_unavailable"
        session.vendor_code = str(error.code or "")
        session.save()
        _schedule_next_h5_collection(session, tries=tries, last_answer="error")
        return
    session.record_outcome(
        session.Status.ERROR, reason="vendor_rejected", vendor_code=error.code or "", retryable=not error.permanent
    )
    session.save()


def _schedule_next_h5_collection(session: VerificationSession, *, tries: int, last_answer: str) -> None:
    at = next_h5_collection_at(now=timezone.now(), token_expires_at=session.vendor_token_expires_at, tries=tries)
    if at is not None:
        _schedule_h5_collection(session, at=at, tries=tries + 1)
        return
    # The token is dead and the vendor never gave a final answer.
    if last_answer == "pending":
        session.record_outcome(session.Status.EXPIRED, reason="token_expired", vendor_code=301, retryable=True)
    else:
        session.record_outcome(session.Status.ERROR, reason="vendor_unavailable", retryable=True)
    session.save()


def next_h5_collection_at(*, now, token_expires_at, tries: int):
    """When to ask Jumdata again after a non-final answer, or None to stop.

    Quick polls with backoff right after the user's return; then nothing until
    the reconciliation shortly before the token dies; from then on backoff
    until just past the expiry, when `result` answers 301 for good."""
    reconcile_at = _h5_reconcile_at(token_expires_at)
    give_up_at = token_expires_at + timedelta(seconds=30)
    at = now + timedelta(seconds=backoff_seconds(tries))
    if at < reconcile_at and tries >= H5_QUICK_POLLS:
        return None  # the reconciliation scheduled at init takes over
    return at if at <= give_up_at else None


def _h5_reconcile_at(token_expires_at):
    return token_expires_at - timedelta(seconds=settings.JUMDATA_RECONCILE_BEFORE_EXPIRY_SECONDS)


def _schedule_h5_collection(session: VerificationSession, *, at, tries: int) -> None:
    from .tasks import collect_h5_result

    args = (str(session.pk), session.vendor_token, tries)
    transaction.on_commit(lambda: collect_h5_result.using(run_after=at).enqueue(*args))


def _store_face_image(session: VerificationSession, url: str) -> None:
    """Keeps the vendor's face photo; the vendor's URL does not live forever."""
    try:
        with vendor_call(vendor=jumdata.VENDOR, endpoint="faceImage", session=session, request_summary={}) as call:
            response = call.send("GET", url, timeout=settings.VENDOR_TIMEOUT_SECONDS)
            content = response.content
            if response.status_code != 200 or not content.startswith(b"\xff\xd8\xff"):
                raise ValueError(f"HTTP {response.status_code}, {len(content)} bytes, not a JPEG")
    except (VendorError, ValueError):
        logger.warning("session=%s face image not stored", session.pk)
        return
    session.face_image.save(f"{session.pk}.jpg", ContentFile(content), save=True)


def _take_vendor_lease(session: VerificationSession) -> bool:
    """Compare-and-set on the row, so no lock is held during the vendor call
    (on SQLite a held write lock would block the sandbox answering it)."""
    now = timezone.now()
    taken = (
        VerificationSession.objects.filter(pk=session.pk, status=session.status)
        .exclude(vendor_busy_until__gt=now)
        .update(vendor_busy_until=now + timedelta(seconds=VENDOR_LEASE_SECONDS))
    )
    return taken == 1


def _release_vendor_lease(session: VerificationSession) -> None:
    VerificationSession.objects.filter(pk=session.pk).update(vendor_busy_until=None)
    session.vendor_busy_until = None


def _refuse_if_link_expired(session: VerificationSession) -> None:
    if session.is_link_expired:
        session_expire_link(session=session)
        raise StepRefused(_("This verification link has expired."), http_status=410)


def session_expire_link(*, session: VerificationSession) -> None:
    """Marks a session whose link has passed its expiry, if it had no outcome."""
    if session.status in (session.Status.CREATED, session.Status.IN_PROGRESS):
        session.record_outcome(session.Status.EXPIRED, reason="link_expired")
        session.save()


# --- what the user is told ---------------------------------------------------


@dataclass(frozen=True)
class UserStatus:
    status: str
    message: str
    retry_allowed: bool


GENERIC_MESSAGES = {
    "created": _("Ready to start."),
    "in_progress": _("The check is under way."),
    "awaiting_result": _("We are fetching your result. This usually takes a few seconds."),
    "vendor_unavailable": _(
        "The verification service is not answering right now. We keep trying; you can also try again later."
    ),
    "vendor_rejected": _("The verification service could not process this check. Please try again later."),
    "link_expired": _("This verification link has expired. Ask for a new one."),
    "passed": _("Verification complete. You may close this page."),
}


def session_user_status(session: VerificationSession) -> UserStatus:
    """What the end user sees of the session: never scores or vendor answers."""
    return UserStatus(status=session.status, message=str(_user_message(session)), retry_allowed=session.retry_allowed)


def _user_message(session: VerificationSession):
    if session.status == session.Status.CREATED:
        return GENERIC_MESSAGES["created"]
    if session.status == session.Status.IN_PROGRESS:
        return GENERIC_MESSAGES["in_progress"]
    if session.status == session.Status.PASSED:
        return GENERIC_MESSAGES["passed"]
    if session.reason in ("not_passed", "check_failed", "token_expired") or (
        session.reason == "vendor_rejected" and session.vendor_code
    ):
        message = jumdata.describe(session.vendor_code).message
    else:
        message = GENERIC_MESSAGES.get(session.reason, GENERIC_MESSAGES["vendor_rejected"])
    if session.status in session.OUTCOME_STATUSES and not session.retry_allowed and session.status != "passed":
        if session.reason != "link_expired":
            return _("%(message)s No further attempt is possible for this verification.") % {"message": message}
    return message
