"""The verification flows, one function per step. Views and tasks call these;
these call the vendor clients and let the session model guard its states."""

import base64
import binascii
import hashlib
import logging
import math
import secrets
import shutil
import tempfile
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile, File
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .idcard import idcard_error, normalise_idcard
from . import crypto, embedding, limits, media
from .audit import audit_record
from .models import AuditEntry, FingerprintBand, Method, SessionImage, VerificationSession
from .selectors import session_search_by_idcard
from .webhooks import SESSION_COMPLETED, SESSION_REVIEWED, webhook_enqueue
from .vendors import juhe, jumdata, tencent
from .vendors.base import (
    VendorConnectionError,
    VendorError,
    VendorRejected,
    backoff_seconds,
    erase_personal,
    should_retry,
    vendor_call,
)

logger = logging.getLogger(__name__)

VENDOR_MODULES = {m.VENDOR: m for m in (jumdata, tencent, juhe)}

AVAILABLE_METHODS = tuple(Method)
METHODS_NEEDING_IDENTITY = (Method.TENCENT_IDCARD, Method.JUHE_VIDEO_AUTH)
OPTION_KEYS = {
    Method.H5: {"actions", "colors"},
    Method.JUHE_VIDEO: {"liveness_type"},
    Method.JUHE_VIDEO_AUTH: {"rate_type"},
}
REFERENCE_PHOTO_MAX_BYTES = 5 * 1024 * 1024
REFERENCE_PHOTO_PROBLEMS = {
    "frame_too_large": f"too large to decode: at most {media.MAX_PHOTO_PIXELS // 1_000_000} megapixels and "
                       f"{media.MAX_PHOTO_DECODED_BYTES // 2**20} MiB decoded",
    "too_small": f"too small: at least {media.MIN_SHORT_SIDE} pixels on the short side",
    "animated": "an animated picture, not a photo",
    "unreadable": "cannot be decoded as a JPEG or PNG",
}
EXTERNAL_REF_MAX_LENGTH = 128
RETURN_URL_MAX_LENGTH = 2000
VENDOR_LEASE_SECONDS = 60
FACE_URL_FIELD = "task:face_image_url"
FACE_IMAGE_TRIES = 5
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
    """An end-user step that cannot be taken now (before consent, after the
    link expired, a video the vendor would refuse, …). `message` is shown to
    the person; `http_status` is 4xx (503 when a vendor is down)."""

    def __init__(self, message, *, http_status: int = 409, code: str = "refused"):
        super().__init__(str(message))
        self.message = message
        self.http_status = http_status
        self.code = code


# --- creating sessions -----------------------------------------------------------


def session_create(
    *,
    client,
    method: str,
    external_ref: str,
    realname: str | None = "",
    idcard: str | None = "",
    reference_photo: str | None = "",
    options: dict | None = None,
    return_url: str | None = "",
    locale: str | None = "",
) -> VerificationSession:
    """Validates everything before anything is stored; raises InvalidInput.
    The values may be anything a JSON body holds: a value of the wrong type
    is reported as such, and null stands for an optional field left out."""
    errors = {}
    texts = {"method": method, "external_ref": external_ref, "realname": realname, "idcard": idcard,
             "reference_photo": reference_photo, "return_url": return_url, "locale": locale}
    for field, value in texts.items():
        if value is not None and not isinstance(value, str):
            errors[field] = "must be a string"
        elif value and field in FREE_TEXT_FIELDS and (hidden := _hidden_character(value)):
            errors[field] = f"must not contain control or invisible formatting characters (found {hidden})"
    method, external_ref, realname, idcard, reference_photo, return_url, locale = (
        value if isinstance(value, str) else "" for value in texts.values()
    )

    if method not in Method.values:
        errors.setdefault("method", f"unknown method; one of {', '.join(Method.values)}")
    elif method not in AVAILABLE_METHODS:
        errors.setdefault("method", f"{method} is not available yet on this portal")
    if not external_ref.strip():
        errors.setdefault("external_ref", "required")
    elif len(external_ref) > EXTERNAL_REF_MAX_LENGTH:
        errors.setdefault("external_ref", f"at most {EXTERNAL_REF_MAX_LENGTH} characters")

    realname = realname.strip()
    idcard = normalise_idcard(idcard)
    if len(realname) > 64:
        errors.setdefault("realname", "a name of at most 64 characters")
    if idcard and (problem := idcard_error(idcard)):
        errors.setdefault("idcard", f"not a valid Chinese ID number: it {problem}")
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

    if return_url and "return_url" not in errors and (problem := _return_url_problem(client, return_url)):
        errors["return_url"] = problem
    if locale and locale.lower() not in LOCALE_ALIASES:
        errors.setdefault("locale", "zh-hans or en")
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
        name = media.stored_name(media.image_format(photo_bytes))
        session.reference_photo.save(name, ContentFile(photo_bytes), save=False)
    session.save()
    logger.info("session created id=%s method=%s", session.id, method)
    return session


# Text the portal keeps and shows (the admin, exports, webhooks, the
# integrator's redirect): none may hide characters from the reader.
FREE_TEXT_FIELDS = {"external_ref", "realname", "return_url"}
# Controls (C0, DEL, C1), format characters (bidi embeddings, overrides and
# isolates, zero-width characters, the BOM, soft hyphens, tag characters),
# lone surrogates (which no database can store as UTF-8) and the Unicode
# line and paragraph separators. Middle dots in names (U+00B7) and rare
# characters outside the Basic Multilingual Plane are fine.
HIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def _hidden_character(text: str) -> str:
    """The first control or invisible formatting character in `text`, as `U+XXXX`, or ''."""
    for character in text:
        if unicodedata.category(character) in HIDDEN_CATEGORIES:
            return f"U+{ord(character):04X}"
    return ""


def _return_url_problem(client, return_url: str) -> str:
    """Redirect mode sends the browser only to the client's own origins."""
    if embedding.origin_of(return_url) is None:
        return "must be an http(s) URL"
    if len(return_url) > RETURN_URL_MAX_LENGTH:
        return f"at most {RETURN_URL_MAX_LENGTH} characters"
    allowed = client.allowed_origins if client is not None else []
    if embedding.origin_of(return_url) not in allowed:
        if not allowed:
            return "this API client has no allowed origins; a return_url must be on one of them"
        return f"its origin must be one of this API client's allowed origins: {', '.join(allowed)}"
    return ""


def _decode_photo(data: str) -> tuple[bytes | None, str]:
    if len(data) > REFERENCE_PHOTO_MAX_BYTES * 4 // 3 + 4:
        return None, f"at most {REFERENCE_PHOTO_MAX_BYTES // (1024 * 1024)} MB"
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None, "is not valid base64"
    if media.image_format(raw) is None:
        return None, "must be a JPEG or PNG image"
    # Judged as an uploaded photo is (the vendor compares the face in it):
    # a decompression bomb or an unreadable picture makes no session.
    try:
        media.probe_image(raw)
    except media.MediaRejected as rejected:
        return None, REFERENCE_PHOTO_PROBLEMS.get(rejected.code, "is not a photo we can use")
    return raw, ""


def _clean_options(method: str, options: dict) -> tuple[dict, dict]:
    allowed = OPTION_KEYS.get(method, set())
    unknown = sorted(set(options) - allowed)
    if unknown:
        return options, {"options": f"unknown option(s) for {method}: {', '.join(unknown)}"}
    if method != Method.H5:
        return _clean_juhe_options(options)
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


def _clean_juhe_options(options: dict) -> tuple[dict, dict]:
    allowed = {"liveness_type": (0, 1, 2), "rate_type": tuple(juhe.RATE_TYPE_THRESHOLDS)}
    cleaned, errors = {}, {}
    for key, value in options.items():
        if isinstance(value, bool) or value not in allowed[key]:
            errors[f"options.{key}"] = f"one of {', '.join(map(str, allowed[key]))}"
        else:
            cleaned[key] = value
    return cleaned, errors


# --- end-user steps ----------------------------------------------------------


def session_give_consent(*, session: VerificationSession, ip: str | None, user_agent: str) -> None:
    refuse_if_link_expired(session)
    if session.has_consent:
        return
    session.consent_at = timezone.now()
    session.consent_ip = ip
    session.consent_user_agent = user_agent[:512]
    session.consent_version = settings.KYC_CONSENT_VERSION
    session.save(update_fields=["consent_at", "consent_ip", "consent_user_agent", "consent_version", "updated_at"])


def session_start_h5(*, session: VerificationSession, return_url: str, ip: str = "") -> str:
    """Where to send the browser: the vendor's page for the current attempt,
    starting a new (billed) attempt only when none is running."""
    if session.method != Method.H5:
        raise StepRefused(_("This verification does not use the H5 page."), http_status=400, code="wrong_method")
    refuse_if_link_expired(session)
    _refuse_without_consent(session)
    client = jumdata.JumdataClient.from_settings(session=session)
    in_flight = session.status in (session.Status.IN_PROGRESS, session.Status.PROCESSING)
    if in_flight and session.has_live_vendor_token():
        # Back to the same page: the return that follows may ask once more.
        VerificationSession.objects.filter(pk=session.pk, vendor_token=session.vendor_token).update(awaiting_return=True)
        return client.html_url(session.vendor_token)
    _begin_attempt(session, ip=ip)

    try:
        started = client.init(
            return_url=return_url,
            actions=session.options.get("actions", ()),
            colors=session.options.get("colors", ()),
        )
    except VendorError as error:
        if error.billed is False:
            session.give_back_attempt()  # nothing was billed
        session.record_outcome(
            session.Status.ERROR,
            reason="vendor_rejected" if error.code else "vendor_unavailable",
            vendor_code=error.code or "",
            vendor=jumdata.VENDOR,
            retryable=not error.permanent,
        )
        _save_outcome(session)
        return ""

    session.vendor_token = started.token
    session.vendor_task_no = started.task_no
    session.vendor_token_expires_at = timezone.now() + timedelta(seconds=jumdata.TOKEN_TTL_SECONDS)
    session.awaiting_return = True
    # The attempt's polling chain starts asleep: its first link is the
    # reconciliation shortly before the token dies; the person's return wakes it.
    session.result_poll_due_at = _h5_reconcile_at(session.vendor_token_expires_at)
    session.save(update_fields=["vendor_token", "vendor_task_no", "vendor_token_expires_at", "awaiting_return",
                                "result_poll_due_at", "updated_at"])
    _enqueue_h5_poll(session, tries=0)
    return client.html_url(started.token)


def session_h5_returned(*, session: VerificationSession) -> None:
    """The person is back from the vendor's page (its return address, a GET
    by the vendor's protocol). The first return after each visit asks for
    the result at once, taking over the attempt's polling chain; any other
    load of the address (a reload, a second tab, a return while a fetch is in
    flight) calls nobody and the page shows what is known."""
    if session.status not in (session.Status.IN_PROGRESS, session.Status.PROCESSING):
        return
    if session.take_return():
        _collect_h5_result(session, tries=0)


def session_collect_h5_result(*, session: VerificationSession, vendor_token: str, tries: int = 0,
                              due: str = "") -> VerificationSession:
    """One link of an attempt's polling chain (a queued task): asks Jumdata
    for the result and records it, then queues the next link if the answer is
    not final. A wake-up queued for another time than the chain's next poll
    (`due`, ISO 8601) was superseded and calls nobody; so does one for an
    older attempt or after the answer is in."""
    if session.vendor_token != vendor_token or session.status not in (
        session.Status.IN_PROGRESS,
        session.Status.PROCESSING,
    ):
        return session
    # Wake-ups queued before the chain was kept on the session carry no time.
    due_at = datetime.fromisoformat(due) if due else None
    if session.result_poll_due_at != due_at:
        return session
    if not _collect_h5_result(session, tries=tries):
        _check_again_after_lease(session, tries=tries, due_at=due_at)
    return session


def _collect_h5_result(session: VerificationSession, *, tries: int) -> bool:
    """Fetches and records the result under the vendor lease; False, calling
    nobody, when another fetch holds the lease or moved the attempt on."""
    if not session.take_vendor_lease(VENDOR_LEASE_SECONDS):
        return False
    session.result_poll_due_at = None  # this fetch is the chain's link; an answer that is not final sets the next
    try:
        client = jumdata.JumdataClient.from_settings(session=session)
        try:
            result = client.fetch_result(session.vendor_token)
        except VendorError as error:
            _after_unanswered_result(session, error=error, tries=tries)
        else:
            _apply_h5_result(session, result, tries=tries)
    finally:
        session.end_vendor_lease()
    return True


def _check_again_after_lease(session: VerificationSession, *, tries: int, due_at) -> None:
    """A chain link that found another fetch in flight: that fetch records
    the answer and moves the chain on. Should it die without doing so (its
    process killed), this link is tried again when the lease has run out."""
    session.refresh_from_db(fields=["status", "vendor_token", "vendor_busy_until", "result_poll_due_at"])
    in_flight = session.status in (session.Status.IN_PROGRESS, session.Status.PROCESSING)
    if in_flight and session.vendor_busy_until and due_at and session.result_poll_due_at == due_at:
        _enqueue_h5_poll(session, tries=tries, run_at=session.vendor_busy_until)


def _apply_h5_result(session: VerificationSession, result: jumdata.JumdataResult, *, tries: int) -> None:
    Outcome = jumdata.H5Outcome
    session.vendor_code = str(result.code)
    if result.outcome is Outcome.PENDING:
        if session.status == session.Status.IN_PROGRESS:
            session.transition(session.Status.PROCESSING)
        session.reason = "awaiting_result"
        _continue_h5_polling(session, tries=tries, last_answer="pending")
        return
    if result.outcome is Outcome.PASSED:
        if session.idcard:
            _compare_h5_face_with_idcard(session, result)
            return
        session.record_outcome(session.Status.PASSED, reason="passed", vendor_code=result.code, vendor=jumdata.VENDOR)
        _save_outcome(session)
        if result.face_image_url:
            _store_face_image_later(session, result.face_image_url)
        return
    status, reason = {
        Outcome.NOT_PASSED: (session.Status.FAILED, "not_passed"),
        Outcome.CHECK_FAILED: (session.Status.FAILED, "check_failed"),
        Outcome.TOKEN_EXPIRED: (session.Status.EXPIRED, "token_expired"),
    }[result.outcome]
    session.record_outcome(status, reason=reason, vendor_code=result.code, vendor=jumdata.VENDOR, retryable=True)
    _save_outcome(session)


def _compare_h5_face_with_idcard(session: VerificationSession, result: jumdata.JumdataResult) -> None:
    """A live face is not yet the right person: with a name and ID number,
    Tencent compares the face Jumdata returned with the ID photo."""
    if result.face_image_url:
        _store_face_image_later(session, result.face_image_url)
    client = tencent.TencentClient.from_settings(session=session)
    try:
        comparison = client.compare_idcard(
            idcard_number=session.idcard, idcard_name=session.realname, image_url=result.face_image_url
        )
    except VendorError as error:
        _record_vendor_failure(session, error, vendor=tencent.VENDOR)
        return
    session.scores = {**session.scores, "similarity": comparison.similarity, "similarity_threshold": comparison.threshold}
    if comparison.passed:
        session.record_outcome(session.Status.PASSED, reason="passed", vendor_code=result.code, vendor=jumdata.VENDOR)
    else:
        session.record_outcome(session.Status.FAILED, reason="face_mismatch", vendor=tencent.VENDOR, retryable=True)
    _save_outcome(session)


def _after_unanswered_result(session: VerificationSession, *, error: VendorError, tries: int) -> None:
    if should_retry(error, retryable_codes=jumdata.RESULT_RETRY_CODES, billed_call=False):
        if session.status == session.Status.IN_PROGRESS:
            session.transition(session.Status.PROCESSING)
        session.reason = "vendor_unavailable"
        session.vendor_code = str(error.code or "")
        _continue_h5_polling(session, tries=tries, last_answer="error")
        return
    session.record_outcome(
        session.Status.ERROR, reason="vendor_rejected", vendor_code=error.code or "", vendor=jumdata.VENDOR,
        retryable=not error.permanent,
    )
    _save_outcome(session)


def _continue_h5_polling(session: VerificationSession, *, tries: int, last_answer: str) -> None:
    """Saves a non-final answer with the chain's next link, and queues it;
    past the token's life the attempt ends instead."""
    planned = next_h5_poll(now=timezone.now(), token_expires_at=session.vendor_token_expires_at, tries=tries)
    if planned is not None:
        session.result_poll_due_at, next_tries = planned
        session.save()  # before the wake-up is queued: it must find its time on the row
        _enqueue_h5_poll(session, tries=next_tries)
        return
    # The token is dead and the vendor never gave a final answer.
    if last_answer == "pending":
        session.record_outcome(
            session.Status.EXPIRED, reason="token_expired", vendor_code=301, vendor=jumdata.VENDOR, retryable=True
        )
    else:
        session.record_outcome(session.Status.ERROR, reason="vendor_unavailable", retryable=True)
    _save_outcome(session)


def next_h5_poll(*, now, token_expires_at, tries: int):
    """When to ask Jumdata again after a non-final answer, and the next
    link's `tries`; None to stop.

    Quick polls with backoff right after the user's return; then the chain
    sleeps until the reconciliation shortly before the token dies; from then
    on backoff until just past the expiry, when `result` answers 301 for good."""
    reconcile_at = _h5_reconcile_at(token_expires_at)
    give_up_at = token_expires_at + timedelta(seconds=30)
    at = now + timedelta(seconds=backoff_seconds(tries))
    if at < reconcile_at and tries >= H5_QUICK_POLLS:
        return reconcile_at, 0
    return (at, tries + 1) if at <= give_up_at else None


def _h5_reconcile_at(token_expires_at):
    return token_expires_at - timedelta(seconds=settings.JUMDATA_RECONCILE_BEFORE_EXPIRY_SECONDS)


def _enqueue_h5_poll(session: VerificationSession, *, tries: int, run_at=None) -> None:
    """Queues a wake-up for the chain's next link (`result_poll_due_at`)."""
    from .tasks import collect_h5_result

    due = session.result_poll_due_at
    args = (str(session.pk), session.vendor_token, tries, due.isoformat())
    transaction.on_commit(lambda: collect_h5_result.using(run_after=run_at or due).enqueue(*args))


def _store_face_image_later(session: VerificationSession, url: str) -> None:
    """The vendor's face photo is fetched by a worker: the person's return
    page does not wait for a second vendor request. The URL leads to a face,
    so the task's stored arguments carry it encrypted."""
    from .tasks import store_face_image

    sealed_url = crypto.encrypt(url, field=FACE_URL_FIELD)
    transaction.on_commit(lambda: store_face_image.enqueue(str(session.pk), sealed_url, 0))


def session_store_face_image(*, session_id, sealed_url: str, tries: int) -> None:
    """Keeps the vendor's face photo; the vendor's URL does not live forever.
    A download without an answer, or with a 5xx, is tried again a few times
    (it bills nothing)."""
    from .tasks import store_face_image

    session = VerificationSession.objects.get(pk=session_id)
    if session.face_image:
        return  # a repeated task
    url = crypto.decrypt(sealed_url, field=FACE_URL_FIELD)
    call = vendor_call(vendor=jumdata.VENDOR, endpoint="faceImage", session=session, request_summary={})
    try:
        with call:
            response = call.send("GET", url, timeout=settings.VENDOR_TIMEOUT_SECONDS)
            content = response.content
            image_format = media.image_format(content)
            if response.status_code != 200 or image_format is None:
                raise ValueError(f"HTTP {response.status_code}, {len(content)} bytes, not a JPEG or PNG")
    except (VendorError, ValueError):
        unanswered = call.record.http_status is None or call.record.http_status >= 500
        if unanswered and tries + 1 < FACE_IMAGE_TRIES:
            at = timezone.now() + timedelta(seconds=backoff_seconds(tries))
            store_face_image.using(run_after=at).enqueue(session_id, sealed_url, tries + 1)
        else:
            logger.warning("session=%s face image not stored (try %d)", session.pk, tries + 1)
        return
    session.face_image.save(media.stored_name(image_format), ContentFile(content), save=True)


def refuse_if_link_expired(session: VerificationSession) -> None:
    """For the POST steps: refuses once the link has expired, recording the
    expiry if the sweep has not yet (GETs never write; see `link_expired_refusal`)."""
    if session.is_link_expired:
        session_expire_link(session=session)
        raise link_expired_refusal()


def link_expired_refusal() -> StepRefused:
    return StepRefused(_("This verification link has expired."), http_status=410, code="link_expired")


def session_expire_link(*, session: VerificationSession) -> bool:
    """Marks a session whose link has passed its expiry, if the attempt had
    no outcome and nothing has moved it on meanwhile, and tells the integrator."""
    if not link_expiry_applies(session):
        return False
    if not session.record_link_expiry():
        return False
    webhook_enqueue(session=session, event_type=SESSION_COMPLETED)
    return True


def link_expiry_applies(session: VerificationSession) -> bool:
    """An expired link ends a session that has no outcome and waits for
    nobody: not one whose result is being fetched (`processing`), nor an H5
    attempt whose vendor token still lives (its polling chain records the
    billed outcome, or the token's expiry)."""
    return (
        session.is_link_expired
        and session.status in (session.Status.CREATED, session.Status.IN_PROGRESS)
        and not session.has_live_vendor_token()
    )


def sessions_expire_links(*, now=None) -> int:
    """The sweep: records the expiry of every session whose link has passed
    it (with its `session.completed` webhook), so that no page load has to.
    Returns how many."""
    now = now or timezone.now()
    due = (
        VerificationSession.objects.select_related("client")
        .filter(expires_at__lte=now, status__in=[VerificationSession.Status.CREATED, VerificationSession.Status.IN_PROGRESS])
        .exclude(vendor_token_expires_at__gt=now)
    )
    expired = sum(session_expire_link(session=session) for session in due.iterator())
    if expired:
        logger.info("expiry sweep: %d session(s) expired", expired)
    return expired


def _save_outcome(session: VerificationSession) -> None:
    """Saves an outcome just recorded and tells the integrator (a webhook)."""
    session.save()
    webhook_enqueue(session=session, event_type=SESSION_COMPLETED)


# --- recorded video and photo ------------------------------------------------------

VIDEO_METHODS = (Method.TENCENT_LIP, Method.TENCENT_IDCARD, Method.JUHE_VIDEO, Method.JUHE_VIDEO_AUTH)
PHOTO_METHODS = (Method.TENCENT_PHOTO,)
ACTION_NAMES = {juhe.ACTION_OPEN_MOUTH: "open_mouth", juhe.ACTION_CLOSE_EYES: "close_eyes"}
# The smallest limit of the vendors a method's video goes to.
VIDEO_MAX_BYTES = {
    Method.TENCENT_LIP: tencent.VIDEO_MAX_BYTES,
    Method.TENCENT_IDCARD: tencent.VIDEO_MAX_BYTES,
    Method.JUHE_VIDEO: juhe.VIDEO_MAX_BYTES,
    Method.JUHE_VIDEO_AUTH: juhe.VIDEO_MAX_BYTES,
}
# Far past any vendor call's timeouts: a submission still `sending` then was
# left by a worker that died mid-call.
SENDING_GIVE_UP_AFTER = timedelta(minutes=5)
SEND_RETRIES = 4  # connection failures before the request left: asked again with backoff


@dataclass(frozen=True)
class Challenge:
    kind: str  # lip_code | digits | actions | none
    value: object

    @classmethod
    def of(cls, session: VerificationSession) -> "Challenge":
        if session.challenge_kind == "actions":
            return cls("actions", [ACTION_NAMES[a] for a in session.challenge_value.split(",")])
        return cls(session.challenge_kind, session.challenge_value or None)


def method_needs_speech(session: VerificationSession) -> bool:
    """Lip codes and Juhe's digit mode are read aloud; the rest are silent."""
    if session.method in (Method.TENCENT_LIP, Method.TENCENT_IDCARD):
        return True
    return session.method == Method.JUHE_VIDEO and _juhe_liveness_type(session) == juhe.LIVENESS_DIGITS


def _juhe_liveness_type(session: VerificationSession) -> int:
    return int(session.options.get("liveness_type", juhe.LIVENESS_SILENT))


def session_current_challenge(*, session: VerificationSession) -> Challenge:
    """The live challenge of the attempt under way, read only: it never starts
    an attempt nor calls a vendor (`session_issue_challenge` does, on POST)."""
    _refuse_unless_recorded(session)
    if session.is_link_expired:
        raise link_expired_refusal()
    _refuse_without_consent(session)
    _refuse_while_processing(session)
    if session.status == session.Status.IN_PROGRESS and session.challenge_kind:
        return Challenge.of(session)
    raise StepRefused(_("No check is under way. Start one first."), http_status=409, code="no_challenge")


def session_issue_challenge(*, session: VerificationSession, ip: str = "") -> Challenge:
    """What to do on camera for the current attempt, starting an attempt when
    none is under way (asking again gets the same challenge back)."""
    _refuse_unless_recorded(session)
    refuse_if_link_expired(session)
    _refuse_without_consent(session)
    if session.status == session.Status.IN_PROGRESS and session.challenge_kind:
        return Challenge.of(session)
    _refuse_while_processing(session)
    if session.status != session.Status.IN_PROGRESS:
        _begin_attempt(session, ip=ip)
    try:
        session.challenge_kind, session.challenge_value = _new_challenge(session)
    except VendorError as error:
        session.give_back_attempt()  # nothing was recorded or billed
        _record_vendor_failure(session, error, vendor=tencent.VENDOR)
        raise StepRefused(_user_message(session), http_status=503, code="vendor_unavailable") from None
    session.save(update_fields=["challenge_kind", "challenge_value", "updated_at"])
    return Challenge.of(session)


def _refuse_unless_recorded(session: VerificationSession) -> None:
    if session.method not in VIDEO_METHODS + PHOTO_METHODS:
        raise StepRefused(_("This verification does not record a video."), http_status=400, code="wrong_method")


def _refuse_while_processing(session: VerificationSession) -> None:
    if session.status == session.Status.PROCESSING:
        raise StepRefused(_("Your recording is being checked. Please wait for the result."), http_status=409,
                          code="processing")


def _new_challenge(session: VerificationSession) -> tuple[str, str]:
    if session.method in (Method.TENCENT_LIP, Method.TENCENT_IDCARD):
        client = tencent.TencentClient.from_settings(session=session)
        return "lip_code", client.get_lip_code(seq=str(session.pk))
    if session.method == Method.JUHE_VIDEO:
        liveness_type = _juhe_liveness_type(session)
        if liveness_type == juhe.LIVENESS_DIGITS:
            return "digits", "".join(secrets.choice("0123456789") for _ in range(4))
        if liveness_type == juhe.LIVENESS_ACTIONS:
            order = [juhe.ACTION_OPEN_MOUTH, juhe.ACTION_CLOSE_EYES]
            secrets.SystemRandom().shuffle(order)
            return "actions", ",".join(order)
    return "none", ""


def _begin_attempt(session: VerificationSession, *, ip: str = "") -> None:
    if not session.can_start_attempt:
        raise StepRefused(_("No further attempt is possible for this verification."), http_status=409,
                          code="no_attempt_left")
    _refuse_beyond_attempt_limits(session, ip=ip)
    if not session.claim_attempt():
        raise StepRefused(_("This verification was started in another window."), http_status=409,
                          code="started_elsewhere")


def _refuse_beyond_attempt_limits(session: VerificationSession, *, ip: str) -> None:
    """Stricter than the vendors' own limits, and checked before any call:
    attempts per ID number over a day (sessions created in the last 24 hours,
    across every client), and attempts begun from one address in an hour."""
    if session.idcard_hash:
        since = timezone.now() - timedelta(days=1)
        used = VerificationSession.objects.filter(idcard_hash=session.idcard_hash, created_at__gte=since).aggregate(
            used=models.Sum("attempts_used")
        )["used"] or 0
        if used >= settings.KYC_MAX_ATTEMPTS_PER_IDCARD_PER_DAY:
            logger.warning("attempt refused: ID number limit session=%s", session.pk)
            raise StepRefused(
                _("Too many attempts have been made with this ID number today. Please try again tomorrow."),
                http_status=429, code="idcard_attempts",
            )
    if ip and limits.retry_after("attempts_ip", ip, limits.Rate(settings.KYC_MAX_ATTEMPTS_PER_IP_PER_HOUR, 3600)):
        logger.warning("attempt refused: address limit session=%s", session.pk)
        raise StepRefused(
            _("Too many checks have been started from your network. Please try again in an hour."),
            http_status=429, code="address_attempts",
        )


def session_submit_media(*, session: VerificationSession, kind: str, upload, capture: str):
    """Checks an uploaded video or photo and queues it for the vendor. Every
    check that can fail runs before anything is stored or sent."""
    from .models import Submission

    expected = Submission.Kind.PHOTO if session.method in PHOTO_METHODS else Submission.Kind.VIDEO
    if session.method not in VIDEO_METHODS + PHOTO_METHODS or kind != expected:
        raise StepRefused(_("This verification does not take this kind of file."), http_status=400, code="wrong_method")
    refuse_if_link_expired(session)
    _refuse_without_consent(session)
    if capture not in Submission.Capture.values:
        raise StepRefused(_("Say how the file was captured (recorder or file)."), http_status=400, code="bad_capture")
    if session.status != session.Status.IN_PROGRESS or not session.challenge_kind:
        raise StepRefused(_("Start the check first: the page shows what to do on camera."), http_status=409,
                          code="no_challenge")
    path = Path(upload.temporary_file_path())
    fingerprint = None  # a video's comes from the frames normalising decodes (submission_send)
    try:
        if kind == Submission.Kind.VIDEO:
            needs_speech = method_needs_speech(session)
            facts = media.probe_video(path, measure_speech=needs_speech)
            media.check_video(facts, needs_speech=needs_speech)
            facts = facts.as_dict()
        else:
            image = media.probe_image(path)
            facts, fingerprint = image.as_dict(), image.fingerprint
    except media.MediaRejected as rejected:
        status = 415 if rejected.code in ("not_a_video", "not_an_image", "unreadable", "animated") else 400
        raise StepRefused(rejected.message, http_status=status, code=rejected.code) from None

    digest = _sha256(path)
    if Submission.objects.filter(content_sha256=digest, session__client_id=session.client_id).exists() or (
        fingerprint and submission_find_copy(fingerprint=fingerprint, session=session)
    ):
        raise StepRefused(REPLAYED_MESSAGE, http_status=409, code="replayed")
    submission = Submission(
        session=session, attempt=session.attempts_used, kind=kind, capture=capture, content_sha256=digest,
        facts=facts, challenge_kind=session.challenge_kind, challenge_value=session.challenge_value,
    )
    try:
        with transaction.atomic():
            stored_as = facts["container"] if kind == Submission.Kind.VIDEO else facts["format"]
            submission.original.save(media.stored_name(stored_as), File(upload), save=False)
            submission.save()
            if fingerprint:
                _keep_fingerprint(submission, fingerprint)
            session.transition(session.Status.PROCESSING)
            session.reason = "awaiting_result"
            if capture == Submission.Capture.FILE:
                session.needs_review = True
            session.save()
    except IntegrityError:
        submission.original.delete(save=False)
        raise StepRefused(_("This attempt was already submitted."), http_status=409, code="already_submitted") from None
    _enqueue_submission(submission, tries=0)
    logger.info("session=%s %s received capture=%s", session.pk, kind, capture)
    return submission


REPLAYED_MESSAGE = _("This recording was already sent. Please record a new one.")
# Submissions sharing the most bands with a fingerprint that are compared
# with it in full: a copy shares many (all, when padded or re-muxed), while
# unrelated pictures share a band by chance (a plain wall gives the same one).
REPLAY_CANDIDATES = 50


def submission_find_copy(*, fingerprint: media.Fingerprint, session: VerificationSession) -> bool:
    """Whether a submission of another session of the same API client
    (sessions without one form their own group) has a near fingerprint: the
    same recording or photo sent again, padded, re-muxed or re-encoded.

    One client's recordings are never compared with another's. Nor are a
    session's own: a second attempt is the same person, most often in the
    same place and pose, where a near picture is no sign of a replay (and
    a lip code or digits are new in each attempt)."""
    from .models import Submission

    candidates = (
        FingerprintBand.objects.filter(client_id=session.client_id, key__in=fingerprint.band_keys())
        .exclude(submission__session=session)
        .values("submission_id").annotate(shared=models.Count("id")).order_by("-shared")[:REPLAY_CANDIDATES]
    )
    stored = Submission.objects.filter(pk__in=[row["submission_id"] for row in candidates])
    for text in stored.values_list("fingerprint", flat=True):
        other = media.Fingerprint.from_text(text)
        if other is not None and fingerprint.is_copy_of(other):
            return True
    return False


def _keep_fingerprint(submission, fingerprint: media.Fingerprint) -> None:
    from .models import Submission

    submission.fingerprint = fingerprint.as_text()
    Submission.objects.filter(pk=submission.pk).update(fingerprint=submission.fingerprint)
    client_id = submission.session.client_id
    FingerprintBand.objects.bulk_create(
        FingerprintBand(submission=submission, client_id=client_id, key=key) for key in fingerprint.band_keys()
    )


def _enqueue_submission(submission, *, tries: int, at=None) -> None:
    from .tasks import send_submission

    task = send_submission.using(run_after=at) if at else send_submission
    transaction.on_commit(lambda: task.enqueue(submission.pk, tries))


def submission_send(*, submission_id: int, tries: int = 0) -> None:
    """Normalises a submission and sends it to its vendor, once. Connection
    failures before the request left are tried again; an answer that never
    came after sending is offered to the person as a retry, never resent."""
    from .models import Submission

    submission = Submission.objects.select_related("session").get(pk=submission_id)
    session = submission.session
    if submission.state != Submission.State.RECEIVED or session.status != session.Status.PROCESSING:
        return
    with _vendor_ready_file(submission) as vendor_ready:
        if vendor_ready is None:
            return
        claimed = Submission.objects.filter(pk=submission.pk, state=Submission.State.RECEIVED).update(
            state=Submission.State.SENDING, sent_at=timezone.now()
        )
        if not claimed:
            return  # another worker has it
        _enqueue_watchdog(submission)
        _send_claimed_submission(session, submission, vendor_ready, tries=tries)


def _enqueue_watchdog(submission) -> None:
    from .tasks import check_submission_answered

    at = timezone.now() + SENDING_GIVE_UP_AFTER
    transaction.on_commit(lambda: check_submission_answered.using(run_after=at).enqueue(submission.pk))


def submission_check_answered(*, submission_id: int) -> None:
    """A worker that died (or was killed) between sending a submission and
    reading the answer leaves it `sending` for ever. Past
    SENDING_GIVE_UP_AFTER it counts as sent but never answered: the person
    is offered a retry, and it is never resent (the vendor may have billed it)."""
    from .models import Submission

    stuck = Submission.objects.filter(
        pk=submission_id, state=Submission.State.SENDING, sent_at__lte=timezone.now() - SENDING_GIVE_UP_AFTER
    )
    if not stuck.update(state=Submission.State.UNANSWERED):
        return
    session = VerificationSession.objects.get(submissions__pk=submission_id)
    logger.warning("submission=%s session=%s never answered: given up", submission_id, session.pk)
    if session.status == session.Status.PROCESSING:
        session.record_outcome(session.Status.ERROR, reason="vendor_timeout", retryable=True)
        _save_outcome(session)


def _send_claimed_submission(session: VerificationSession, submission, vendor_ready: Path, *, tries: int) -> None:
    from .models import Submission

    try:
        _send_to_vendor(session, submission, vendor_ready)
    except VendorError as error:
        if not error.reached and tries < SEND_RETRIES:
            Submission.objects.filter(pk=submission.pk).update(state=Submission.State.RECEIVED, sent_at=None)
            _enqueue_submission(submission, tries=tries + 1, at=timezone.now() + timedelta(seconds=backoff_seconds(tries)))
            return
        unanswered = isinstance(error, VendorConnectionError) and error.reached
        Submission.objects.filter(pk=submission.pk).update(
            state=Submission.State.UNANSWERED if unanswered else Submission.State.ANSWERED
        )
        if unanswered:
            session.record_outcome(session.Status.ERROR, reason="vendor_timeout", vendor=error.vendor, retryable=True)
            _save_outcome(session)
        else:
            _record_vendor_failure(session, error, vendor=error.vendor)
        return
    Submission.objects.filter(pk=submission.pk).update(state=Submission.State.ANSWERED)


@contextmanager
def _vendor_ready_file(submission):
    """A local path to the file the vendor gets (the photo as an upright
    JPEG of a size the vendor takes, the video as MP4/H.264/AAC within its
    size limit), made and stored once; or None when it cannot be made so or
    the video is a recording sent before: the submission is then refused."""
    if submission.normalised:
        with _local_copy(submission.normalised) as ready:
            yield ready
        return
    photo = submission.kind == submission.Kind.PHOTO
    with tempfile.TemporaryDirectory() as workdir, _local_copy(submission.original) as original:
        target = Path(workdir) / ("normalised.jpg" if photo else "normalised.mp4")
        try:
            if photo:
                target.write_bytes(media.normalise_photo(original.read_bytes()))
            else:
                normalised = media.normalise_video(
                    original, target, facts=media.VideoFacts(**submission.facts),
                    max_bytes=VIDEO_MAX_BYTES[submission.session.method],
                )
                _keep_video_fingerprint(submission, normalised.fingerprint)
        except media.MediaRejected as rejected:
            _refuse_submission(submission, rejected.code)
            yield None
            return
        with target.open("rb") as file:
            submission.normalised.save(media.stored_name("mp4"), File(file), save=True)
        yield target


def _keep_video_fingerprint(submission, fingerprint: media.Fingerprint | None) -> None:
    """Refuses a recording of this client sent before; keeps the fingerprint
    of any other. (A photo's is kept, and checked, when it is uploaded.)"""
    if fingerprint is None:
        return
    if submission_find_copy(fingerprint=fingerprint, session=submission.session):
        logger.info("submission=%s session=%s refused: a recording sent before", submission.pk, submission.session_id)
        raise media.MediaRejected("replayed", REPLAYED_MESSAGE)
    _keep_fingerprint(submission, fingerprint)


def _refuse_submission(submission, code: str) -> None:
    """Nothing reached a vendor: the submission stays, refused, for the
    reviewer; the attempt is given back and the person told to try again."""
    session = submission.session
    submission.refuse(code)
    session.give_back_attempt()
    session.record_outcome(session.Status.FAILED, reason=code, retryable=True)
    _save_outcome(session)


@contextmanager
def _local_copy(field_file):
    """A path on this machine to a stored file: the file itself on local
    storage, else a temporary copy (object storage has no paths)."""
    try:
        local = Path(field_file.path)
    except NotImplementedError:
        local = None
    if local is not None:
        yield local
        return
    with tempfile.NamedTemporaryFile(suffix=Path(field_file.name).suffix) as copy:
        with field_file.open("rb") as stored:
            shutil.copyfileobj(stored, copy, 1024 * 1024)
        copy.flush()
        yield Path(copy.name)


def _send_to_vendor(session: VerificationSession, submission, video_or_photo: Path) -> None:
    method = session.method
    if method in (Method.TENCENT_LIP, Method.TENCENT_IDCARD):
        client = tencent.TencentClient.from_settings(session=session)
        try:
            if method == Method.TENCENT_LIP:
                card = media.normalise_photo(session.reference_photo.read()) if session.reference_photo else None
                verdict = client.detect_lip_video(
                    validate_data=submission.challenge_value, video=video_or_photo, card=card, seq=str(session.pk)
                )
            else:
                verdict = client.detect_idcard_lip_video(
                    validate_data=submission.challenge_value, video=video_or_photo,
                    idcard_number=session.idcard, idcard_name=session.realname, seq=str(session.pk),
                )
        except VendorRejected as error:
            if not _is_tencent_outcome(error.code):
                raise
            verdict = tencent.Verdict(False, "not_live", error.code, retryable=tencent.describe(error.code).user_fixable)
        if verdict.photo:
            _keep_image(session, SessionImage.Kind.VENDOR_PHOTO, verdict.photo, as_face=True)
        _record_verdict(session, passed=verdict.passed, reason=verdict.reason, code=verdict.vendor_code,
                        vendor=tencent.VENDOR, retryable=verdict.retryable, scores=verdict.scores)
    elif method == Method.JUHE_VIDEO:
        client = juhe.JuheClient.from_settings(session=session)
        verdict = client.verify_video(
            video=video_or_photo, liveness_type=_juhe_liveness_type(session),
            validate_data=submission.challenge_value, best_frames=settings.JUHE_BEST_FRAMES,
        )
        for number, frame in enumerate(verdict.best_frames):
            _keep_image(session, SessionImage.Kind.BEST_FRAME, frame, as_face=number == 0)
        session.vendor_order_no = verdict.order_id
        _record_verdict(session, passed=verdict.passed, reason="passed" if verdict.passed else "not_live",
                        code=verdict.vendor_code, vendor=juhe.VENDOR, retryable=verdict.retryable)
    elif method == Method.JUHE_VIDEO_AUTH:
        client = juhe.JuheClient.from_settings(session=session)
        verdict = client.verify_identity_video(
            video=video_or_photo, realname=session.realname, idcard=session.idcard,
            rate_type=int(session.options.get("rate_type", 1)),
        )
        for number, url in enumerate(verdict.picture_urls):
            try:
                picture = client.download_picture(url)
            except VendorError:
                continue  # the verdict stands; the call row records the failed download
            if picture:
                _keep_image(session, SessionImage.Kind.VENDOR_PICTURE, picture, as_face=number == 0)
        session.vendor_order_no = verdict.order_id
        _record_verdict(session, passed=verdict.passed, reason=verdict.reason, code=verdict.vendor_code,
                        vendor=juhe.VENDOR, retryable=verdict.retryable, scores=verdict.scores)
    else:
        _send_photo_to_tencent(session, video_or_photo)


def _send_photo_to_tencent(session: VerificationSession, photo: Path) -> None:
    client = tencent.TencentClient.from_settings(session=session)
    image = photo.read_bytes()
    try:
        liveness = client.detect_picture(image=image)
    except VendorRejected as error:
        if not _is_tencent_outcome(error.code):
            raise
        _record_verdict(session, passed=False, reason="not_live", code=error.code, vendor=tencent.VENDOR,
                        retryable=tencent.describe(error.code).user_fixable)
        return
    scores = {"photo_score": liveness.score, "photo_score_threshold": liveness.threshold}
    if not liveness.passed:
        _record_verdict(session, passed=False, reason="not_live", code=0, vendor=tencent.VENDOR, retryable=True,
                        scores=scores)
        return
    if session.idcard:
        comparison = client.compare_idcard_image(idcard_number=session.idcard, idcard_name=session.realname, image=image)
        scores.update({"similarity": comparison.similarity, "similarity_threshold": comparison.threshold})
        if not comparison.passed:
            _record_verdict(session, passed=False, reason="face_mismatch", code=0, vendor=tencent.VENDOR,
                            retryable=True, scores=scores)
            return
    _keep_image(session, SessionImage.Kind.VENDOR_PHOTO, image, as_face=True)
    _record_verdict(session, passed=True, reason="passed", code=0, vendor=tencent.VENDOR, scores=scores)


def _is_tencent_outcome(code) -> bool:
    """Negative codes judge the face or the video; positive ones the service."""
    return isinstance(code, int) and code < 0 and not tencent.describe(code).permanent


def _record_verdict(session, *, passed: bool, reason: str, code, vendor: str, retryable=False, scores=None):
    status = session.Status.PASSED if passed else session.Status.FAILED
    session.record_outcome(status, reason=reason, vendor_code=code if code else "", vendor=vendor,
                           retryable=retryable and not passed, scores=scores)
    _save_outcome(session)


def _record_vendor_failure(session: VerificationSession, error: VendorError, *, vendor: str) -> None:
    session.record_outcome(
        session.Status.ERROR,
        reason="vendor_rejected" if error.code else "vendor_unavailable",
        vendor_code=error.code or "",
        vendor=vendor,
        retryable=not error.permanent,
    )
    _save_outcome(session)


def _keep_image(session: VerificationSession, kind: str, content: bytes, *, as_face: bool) -> None:
    """Keeps an image a vendor returned, named by what it is; anything not a
    JPEG or PNG is not kept (staff's browsers would be asked to open it)."""
    image_format = media.image_format(content)
    if image_format is None:
        logger.warning("session=%s vendor image not kept: not a JPEG or PNG kind=%s", session.pk, kind)
        return
    SessionImage.objects.create(
        session=session, attempt=session.attempts_used, kind=kind,
        image=ContentFile(content, name=media.stored_name(image_format)),
    )
    if as_face:
        session.face_image.save(media.stored_name(image_format), ContentFile(content), save=False)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _refuse_without_consent(session: VerificationSession) -> None:
    if not session.has_consent:
        raise StepRefused(_("Please agree to the processing of your data first."), http_status=403, code="no_consent")


# --- review by compliance staff ------------------------------------------------------


def decision_needs_second_reviewer(*, session: VerificationSession, decision: str) -> bool:
    """The four-eyes rule: a rejection, or an approval against a vendor outcome
    that did not pass, waits for a second reviewer."""
    from .models import ReviewDecision

    if not settings.KYC_FOUR_EYES:
        return False
    return decision == ReviewDecision.Decision.REJECT or (
        decision == ReviewDecision.Decision.APPROVE and session.passed is not True
    )


def session_decide(*, session: VerificationSession, reviewer, decision: str, note: str):
    """Records a reviewer's decision; final at once unless four eyes are needed."""
    from .models import ReviewDecision

    if decision not in ReviewDecision.Decision.values:
        raise InvalidInput({"decision": f"one of {', '.join(ReviewDecision.Decision.values)}"})
    if not note.strip():
        raise InvalidInput({"note": "a note is required for every decision"})
    if session.review_status != session.ReviewStatus.PENDING:
        raise InvalidInput({"decision": "this session has already been decided"})
    if session.status not in session.OUTCOME_STATUSES:
        raise InvalidInput({"decision": "the session has no outcome yet"})
    if session.decisions.filter(needs_second_reviewer=True, confirmed_by=None).exists():
        raise InvalidInput({"decision": "a decision is waiting for a second reviewer"})
    with transaction.atomic():
        made = ReviewDecision.objects.create(
            session=session, decision=decision, note=note.strip(), reviewer=reviewer,
            needs_second_reviewer=decision_needs_second_reviewer(session=session, decision=decision),
        )
        if not made.needs_second_reviewer:
            _apply_decision(session, made)
        audit_record(actor=reviewer, action="decide", session=session,
                     detail=f"{decision}{' (awaiting second reviewer)' if made.needs_second_reviewer else ''}")
    return made


def decision_confirm(*, decision, reviewer):
    """The second pair of eyes: another reviewer makes a waiting decision final."""
    if not decision.needs_second_reviewer or decision.confirmed_by_id is not None:
        raise InvalidInput({"decision": "this decision is not waiting for confirmation"})
    if decision.reviewer_id == reviewer.pk:
        raise InvalidInput({"decision": "the second reviewer must be someone else"})
    with transaction.atomic():
        decision.confirmed_by = reviewer
        decision.confirmed_at = timezone.now()
        decision.save(update_fields=["confirmed_by", "confirmed_at"])
        _apply_decision(decision.session, decision)
        audit_record(actor=reviewer, action="decide", session=decision.session,
                     detail=f"confirmed {decision.decision} #{decision.pk}")


def _apply_decision(session: VerificationSession, decision) -> None:
    from .models import ReviewDecision

    if decision.decision == ReviewDecision.Decision.RETRY:
        # One more attempt for the person; the session stays pending review.
        session.max_attempts = max(session.max_attempts, session.attempts_used) + 1
        if session.status in (session.Status.FAILED, session.Status.ERROR, session.Status.EXPIRED):
            session.retryable = True
        session.expires_at = max(session.expires_at, timezone.now() + timedelta(hours=settings.KYC_SESSION_TTL_HOURS))
    else:
        session.review_status = (
            session.ReviewStatus.APPROVED if decision.decision == ReviewDecision.Decision.APPROVE
            else session.ReviewStatus.REJECTED
        )
    session.save()
    if decision.decision != ReviewDecision.Decision.RETRY:
        webhook_enqueue(session=session, event_type=SESSION_REVIEWED)


# --- searching by ID number ----------------------------------------------------------
# The keyed hash finds an exact number in one query, so whoever may search
# can test guesses: one number differs from another in its birth date, and a
# mask that shows the rest leaves a few hundred dates to try. Only staff who
# may see identities search, a limited number of times, and each search
# leaves an audit entry with the hash, never the number.


class IdcardSearchRefused(Exception):
    """A search by ID number that was not made; `message` tells the staff
    member why. The refusal itself is audited."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def sessions_find_by_idcard(*, actor, idcard: str):
    """The sessions whose ID number is exactly `idcard`, for `actor` (a
    staff user) if they may see identities and have searched fewer than
    ADMIN_IDCARD_SEARCHES times in its window. Otherwise, or for a number
    that is not valid, raises IdcardSearchRefused, having searched nothing."""
    idcard = normalise_idcard(idcard)
    digest = crypto.search_hash(idcard)
    if not actor.has_perm("verification.view_full_identity"):
        audit_record(actor=actor, action=AuditEntry.Action.SEARCH_REFUSED, detail=f"no permission; hash {digest}")
        raise IdcardSearchRefused(
            _("Searching by ID number needs the permission to see full identities: "
              "no session was searched by it.")
        )
    if idcard_error(idcard):
        # No stored session can hold it (numbers are checked on the way in):
        # nothing to search, count or audit.
        raise IdcardSearchRefused(
            _("This is not a valid ID number (its date of birth or check character is wrong): "
              "no session was searched by it.")
        )
    rate = limits.Rate.parse(settings.ADMIN_IDCARD_SEARCHES)
    with transaction.atomic():
        # Counted from the audit log itself, under a lock on the user's row,
        # so searches sent side by side cannot all pass the count together.
        get_user_model().objects.select_for_update().only("pk").get(pk=actor.pk)
        window_start = timezone.now() - timedelta(seconds=rate.seconds)
        recent = AuditEntry.objects.filter(
            actor=actor, action=AuditEntry.Action.SEARCH_IDENTITY, created_at__gte=window_start
        ).order_by("created_at").values_list("created_at", flat=True)
        searched = list(recent)
        if len(searched) < rate.count:
            found = session_search_by_idcard(VerificationSession.objects.all(), idcard)
            audit_record(actor=actor, action=AuditEntry.Action.SEARCH_IDENTITY,
                         detail=f"hash {digest}; {found.count()} found")
            return found
    audit_record(actor=actor, action=AuditEntry.Action.SEARCH_REFUSED, detail=f"rate limit; hash {digest}")
    free_at = searched[len(searched) - rate.count] + timedelta(seconds=rate.seconds)
    minutes = max(1, math.ceil((free_at - timezone.now()).total_seconds() / 60))
    raise IdcardSearchRefused(
        _("You have searched by ID number %(count)d times in %(window)d minutes, the most allowed. "
          "Try again in %(minutes)d minutes.")
        % {"count": rate.count, "window": math.ceil(rate.seconds / 60), "minutes": minutes}
    )


# --- retention and erasure -------------------------------------------------------------


def session_purge_media(*, session: VerificationSession) -> int:
    """Deletes every file of a session (uploads, normalised videos, faces,
    vendor images, reference photo). Returns how many files went."""
    files = [session.face_image, session.reference_photo]
    for submission in session.submissions.all():
        files += [submission.original, submission.normalised]
    gone = 0
    for field in files:
        if field:
            field.delete(save=False)
            gone += 1
    for image in session.images.all():
        image.image.delete(save=False)
        image.delete()
        gone += 1
    session.submissions.update(original="", normalised="")
    session.save()
    return gone


def session_purge_identity(*, session: VerificationSession) -> None:
    """Forgets the name and ID number, the session's own and the masked ones
    its vendor-call summaries keep; the keyed hash stays for lookups."""
    kept_hash = getattr(session, "idcard_hash", "")
    session.realname = ""
    session.idcard = ""
    session.save()
    if kept_hash:
        VerificationSession.objects.filter(pk=session.pk).update(idcard_hash=kept_hash)
    for call in session.vendor_calls.all():
        request, response = erase_personal(call.request_summary), erase_personal(call.response_summary)
        if (request, response) != (call.request_summary, call.response_summary):
            call.request_summary, call.response_summary = request, response
            call.save(update_fields=["request_summary", "response_summary"])


def session_erase(*, session: VerificationSession, actor) -> None:
    """Right to erasure: media, name and ID number go now; the outcome, the
    decisions and the audit trail remain."""
    files = session_purge_media(session=session)
    session_purge_identity(session=session)
    # The fingerprints were taken from the face: they go too.
    session.submissions.update(fingerprint="")
    FingerprintBand.objects.filter(submission__session=session).delete()
    audit_record(actor=actor, action="erase", session=session, detail=f"{files} files")


def sessions_purge_expired(*, now=None) -> tuple[int, int]:
    """Applies the retention periods. Returns (sessions whose media went,
    sessions whose name and ID number went)."""
    now = now or timezone.now()
    media_before = now - timedelta(days=settings.KYC_MEDIA_RETENTION_DAYS)
    pii_before = now - timedelta(days=settings.KYC_PII_RETENTION_DAYS)
    media_done = identity_done = 0
    with_media = (
        VerificationSession.objects.filter(created_at__lt=media_before)
        .filter(models.Q(submissions__original__gt="") | models.Q(face_image__gt="")
                | models.Q(reference_photo__gt="") | models.Q(images__isnull=False))
        .distinct()
    )
    for session in with_media.iterator():
        files = session_purge_media(session=session)
        audit_record(actor=None, action="purge", session=session, detail=f"retention: {files} files")
        media_done += 1
    for session in VerificationSession.objects.filter(created_at__lt=pii_before).exclude(idcard="", realname="").iterator():
        if session.idcard or session.realname:
            session_purge_identity(session=session)
            audit_record(actor=None, action="purge", session=session, detail="retention: name and ID number")
            identity_done += 1
    return media_done, identity_done


def schedule_daily_purge(*, after: timedelta) -> bool:
    """Queues the retention task unless one is already waiting."""
    from .tasks import purge_expired_data

    return _enqueue_unless_waiting(purge_expired_data, after=after)


def schedule_expiry_sweep(*, after: timedelta | None = None) -> bool:
    """Queues the link-expiry sweep (every KYC_EXPIRY_SWEEP_MINUTES) unless one is already waiting."""
    from .tasks import expire_links

    return _enqueue_unless_waiting(expire_links, after=after or timedelta(minutes=settings.KYC_EXPIRY_SWEEP_MINUTES))


def _enqueue_unless_waiting(task, *, after: timedelta) -> bool:
    """For a task that queues itself again each time it runs: one is enough."""
    from django_tasks_db.models import DBTaskResult

    waiting = DBTaskResult.objects.filter(task_path=task.module_path, status="READY").exists()
    if not waiting:
        task.using(run_after=timezone.now() + after).enqueue()
    return not waiting


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
    "not_live": _("The liveness check did not pass. Face the camera in good light and try again."),
    "face_mismatch": _("Your face could not be matched. Face the camera in good light, without glasses or a mask, and try again."),
    "vendor_timeout": _("The verification service did not answer in time. Please try again."),
    "unreadable": _("This video cannot be read. Please record it again."),
    "too_large": _("The video is too large. Record for about 6 seconds."),
    "too_long": _("The video is too long. Record for about 6 seconds (at most 10)."),
    "replayed": REPLAYED_MESSAGE,
}


def session_user_status(session: VerificationSession) -> UserStatus:
    """What the end user sees of the session: never scores or vendor answers.
    A link past its expiry shows as expired before the sweep has recorded it."""
    if link_expiry_applies(session):
        return UserStatus(status=session.Status.EXPIRED, message=str(GENERIC_MESSAGES["link_expired"]),
                          retry_allowed=False)
    return UserStatus(status=session.status, message=str(_user_message(session)), retry_allowed=session.retry_allowed)


def _user_message(session: VerificationSession):
    if session.status == session.Status.CREATED:
        return GENERIC_MESSAGES["created"]
    if session.status == session.Status.IN_PROGRESS:
        return GENERIC_MESSAGES["in_progress"]
    if session.status == session.Status.PASSED:
        return GENERIC_MESSAGES["passed"]
    vendor = VENDOR_MODULES.get(session.outcome_vendor)
    if vendor is not None and session.vendor_code not in ("", "0"):
        message = vendor.describe(session.vendor_code).message
    else:
        message = GENERIC_MESSAGES.get(session.reason, GENERIC_MESSAGES["vendor_rejected"])
    if session.status in session.OUTCOME_STATUSES and not session.retry_allowed and session.status != "passed":
        if session.reason != "link_expired":
            return _("%(message)s No further attempt is possible for this verification.") % {"message": message}
    return message
