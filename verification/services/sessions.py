"""Sessions from their creation to the start of an attempt: the integrator's
request checked before anything is stored, the person's consent, the
limits that guard the vendor spend, and the expiry of links (recorded by a
sweep, so that no page load has to write)."""

import base64
import binascii
import logging
import unicodedata
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_tasks import task

from .. import media
from ..domain.errors import ConsentMissing, InvalidInput, LimitReached, LinkExpired, NotNow
from ..methods import REGISTRY
from ..models import VerificationSession
from ..platform import limits
from ..platform.idcard import idcard_error, normalise_idcard
from ..platform.origins import origin_of
from .messages import link_expiry_applies
from .method_order import auto_order
from .review import session_triage
from .scheduling import enqueue_unless_waiting
from .webhooks import SESSION_COMPLETED, webhook_enqueue

logger = logging.getLogger(__name__)

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
LOCALE_ALIASES = {"zh": "zh-hans", "zh-cn": "zh-hans", "zh-hans": "zh-hans", "en": "en", "en-us": "en", "en-gb": "en"}
# Text the portal keeps and shows (the admin, exports, webhooks, the
# integrator's redirect): none may hide characters from the reader.
FREE_TEXT_FIELDS = {"external_ref", "realname", "return_url"}
# Controls (C0, DEL, C1), format characters (bidi embeddings, overrides and
# isolates, zero-width characters, the BOM, soft hyphens, tag characters),
# lone surrogates (which no database can store as UTF-8) and the Unicode
# line and paragraph separators. Middle dots in names (U+00B7) and rare
# characters outside the Basic Multilingual Plane are fine.
HIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


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
    methods: list | None = None,
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

    auto = method == "auto"
    verification_method = REGISTRY.get(method)
    if verification_method is None and not auto:
        errors.setdefault("method", f"unknown method; one of auto, {', '.join(REGISTRY)}")
    if methods is not None and not auto:
        errors["methods"] = "only with method auto (the order it tries methods in)"
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

    photo_bytes = None
    if reference_photo:
        photo_bytes, problem = _decode_photo(reference_photo)
        if problem:
            errors["reference_photo"] = problem
    if verification_method is not None and not errors.keys() & {"realname", "idcard", "reference_photo"}:
        errors.update(verification_method.requirement_errors(
            realname=realname, idcard=idcard, has_reference_photo=photo_bytes is not None
        ))
    if not errors.keys() & {"realname", "idcard"} and bool(realname) != bool(idcard):
        errors["realname" if not realname else "idcard"] = "realname and idcard go together"
    order = []
    if auto and not errors.keys() & {"realname", "idcard", "reference_photo", "methods"}:
        order, order_errors = auto_order(client=client, methods=methods, realname=realname, idcard=idcard,
                                         has_reference_photo=photo_bytes is not None)
        errors.update(order_errors)

    options = options if options is not None else {}
    if not isinstance(options, dict):
        errors["options"] = "must be an object"
    elif auto and options:
        errors["options"] = "not accepted with method auto: each method runs with its own defaults"
    elif verification_method is not None:
        options, option_errors = verification_method.clean_options(options)
        errors.update(option_errors)

    if return_url and "return_url" not in errors and (problem := _return_url_problem(client, return_url)):
        errors["return_url"] = problem
    if locale and locale.lower() not in LOCALE_ALIASES:
        errors.setdefault("locale", "zh-hans or en")
    if errors:
        raise InvalidInput(errors)

    session = VerificationSession(
        client=client,
        method="" if auto else method,
        method_requested=method,
        method_order=order,
        methods_tried=[] if auto else [method],
        external_ref=external_ref.strip(),
        options=options,
        return_url=return_url,
        # None given: the person's browser chooses, on every page (web.steps).
        locale=LOCALE_ALIASES[locale.lower()] if locale else "",
        max_attempts=settings.KYC_MAX_ATTEMPTS,
    )
    session.set_identity(realname=realname, idcard=idcard)
    if photo_bytes:
        name = media.stored_name(media.image_format(photo_bytes))
        session.reference_photo.save(name, ContentFile(photo_bytes), save=False)
    session.save()
    logger.info("session created id=%s method=%s", session.id, method)
    return session


def _hidden_character(text: str) -> str:
    """The first control or invisible formatting character in `text`, as `U+XXXX`, or ''."""
    for character in text:
        if unicodedata.category(character) in HIDDEN_CATEGORIES:
            return f"U+{ord(character):04X}"
    return ""


def _return_url_problem(client, return_url: str) -> str:
    """Redirect mode sends the browser only to the client's own origins."""
    if origin_of(return_url) is None:
        return "must be an http(s) URL"
    if len(return_url) > RETURN_URL_MAX_LENGTH:
        return f"at most {RETURN_URL_MAX_LENGTH} characters"
    allowed = client.allowed_origins if client is not None else []
    if origin_of(return_url) not in allowed:
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


# --- the person's steps --------------------------------------------------------------


def session_give_consent(*, session: VerificationSession, ip: str | None, user_agent: str) -> None:
    refuse_if_link_expired(session)
    session.record_consent(ip=ip, user_agent=user_agent)


def refuse_without_consent(session: VerificationSession) -> None:
    if not session.has_consent:
        raise ConsentMissing(_("Please agree to the processing of your data first."), code="no_consent")


def begin_attempt(session: VerificationSession, *, ip: str = "", vendor_lease_seconds: int | None = None) -> None:
    """Starts an attempt, or refuses: none left, a limit reached, or another
    window started one a moment ago. `vendor_lease_seconds`: see
    `VerificationSession.claim_attempt`."""
    if not session.can_start_attempt:
        raise NotNow(_("No further attempt is possible for this verification."), code="no_attempt_left")
    _refuse_beyond_attempt_limits(session, ip=ip)
    if not session.claim_attempt(vendor_lease_seconds=vendor_lease_seconds):
        raise NotNow(_("This verification was started in another window."), code="started_elsewhere")


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
            raise LimitReached(
                _("Too many attempts have been made with this ID number today. Please try again tomorrow."),
                code="idcard_attempts",
            )
    if ip and limits.retry_after("attempts_ip", ip, limits.Rate(settings.KYC_MAX_ATTEMPTS_PER_IP_PER_HOUR, 3600)):
        logger.warning("attempt refused: address limit session=%s", session.pk)
        raise LimitReached(
            _("Too many checks have been started from your network. Please try again in an hour."),
            code="address_attempts",
        )


def session_cancel(*, session: VerificationSession, reason: str) -> None:
    """Ends a session that has no final outcome, for good: the person
    declined (`declined`) or the integrator cancelled it
    (`cancelled_by_client`); the integrator is told (`session.completed`,
    status `cancelled`). Refused while a recording is being checked (its
    answer may be billed) and once the session is final."""
    if session.status == session.Status.PROCESSING:
        raise NotNow(_("Your recording is being checked. Please wait for the result."), code="processing")
    if session.is_final:
        raise NotNow(_("This verification is finished."), code="finished")
    if not session.cancel(reason=reason):
        raise NotNow(_("This verification changed a moment ago. Please reload the page."), code="changed")
    webhook_enqueue(session=session, event_type=SESSION_COMPLETED)
    logger.info("session=%s cancelled reason=%s", session.pk, reason)


# --- link expiry ---------------------------------------------------------------------


def refuse_if_link_expired(session: VerificationSession) -> None:
    """For the POST steps: refuses once the link has expired, recording the
    expiry if the sweep has not yet (GETs never write; they raise
    `link_expired_refusal()` alone)."""
    if session.is_link_expired:
        session_expire_link(session=session)
        raise link_expired_refusal()


def link_expired_refusal() -> LinkExpired:
    return LinkExpired(_("This verification link has expired."), code="link_expired")


def session_expire_link(*, session: VerificationSession) -> bool:
    """Marks a session whose link has passed its expiry, if the attempt had
    no outcome and nothing has moved it on meanwhile, and tells the integrator."""
    if not link_expiry_applies(session):
        return False
    if not session.record_link_expiry():
        return False
    session_triage(session=session)
    webhook_enqueue(session=session, event_type=SESSION_COMPLETED)
    return True


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


def schedule_expiry_sweep(*, after: timedelta | None = None) -> bool:
    """Queues the link-expiry sweep (every KYC_EXPIRY_SWEEP_MINUTES) unless one is already waiting."""
    return enqueue_unless_waiting(expire_links, after=after or timedelta(minutes=settings.KYC_EXPIRY_SWEEP_MINUTES))


@task()
def expire_links() -> None:
    """Records the expiry of sessions whose link has passed it, then queues
    itself again, even after a failed run."""
    try:
        sessions_expire_links()
    finally:
        schedule_expiry_sweep()
