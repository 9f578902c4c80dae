"""`"method": "auto"`: one session that runs the first of the integrator's
methods this person's device can do and whose vendor is up, and moves to
the next when a vendor turns out to be down before anything was billed.

The order comes from the request (`methods`) or the client
(`ApiClient.methods`); methods needing a name and ID number are left out
of a session that has none. The page probes the device once consent is
given (static/js/route.js) and `session_route` chooses; `fall_over` is
what the hosted and recorded steps call when their vendor's first call
fails without a bill. docs/routing.md tells the whole story."""

import logging

from django.utils.translation import gettext_lazy as _

from ..domain.device import Device
from ..domain.errors import NotNow, VendorDown
from ..methods import Method, method_of
from ..models import VerificationSession
from ..vendors import VENDORS
from ..vendors.base import VendorError, may_fall_over
from ..vendors.breaker import breaker_is_open
from .sessions import refuse_if_link_expired, refuse_without_consent

logger = logging.getLogger(__name__)

# --- choosing a method for this device ------------------------------------------------


def method_unavailable(method: Method, device: Device, session: VerificationSession) -> str:
    """Why `method` is passed over for this device now ("" when it is not):
    the device cannot do it, or the breaker of a vendor it would call is open."""
    problem = method.device_problem(device)
    if problem:
        return problem
    if any(breaker_is_open(vendor.VENDOR) for vendor in method.vendors_for(session)):
        return "vendor_down"
    return ""


def may_choose_again(session: VerificationSession) -> bool:
    """Whether the person, continuing on another device (the hand-off),
    may have the method chosen again for it: once, and only while nothing
    has started (no attempt, no challenge, no fall-over)."""
    return (
        session.is_auto and bool(session.method) and session.status == session.Status.CREATED
        and session.methods_tried == [session.method] and not session.attempts_used
        and not session.challenge_kind and not session.vendor_token
        and not session.device_facts.get("handoff")
    )


def session_route(*, session: VerificationSession, device: Device, handoff: bool = False) -> str:
    """Chooses an `auto` session's method for the person's device: the first
    of its order the device can do whose vendor is up. Asking again once
    chosen gets the same method, except once from the device the person
    continued on (`handoff`) while nothing has started. Refuses (VendorDown)
    when none fits now."""
    if not session.is_auto:
        return session.method
    refuse_if_link_expired(session)
    refuse_without_consent(session)
    again = handoff and may_choose_again(session)
    if session.method and not again:
        return session.method
    if session.status != session.Status.CREATED:
        raise NotNow(_("This verification is finished."), code="finished")
    passed_over = {name: method_unavailable(method_of(name), device, session) for name in session.method_order}
    chosen = next((name for name, why in passed_over.items() if not why), None)
    if chosen is None:
        logger.warning("session=%s auto: no method fits %s", session.pk, passed_over)
        if any(why != "vendor_down" for why in passed_over.values()):
            raise VendorDown(_("This device cannot do the check. Continue on your phone, or open the link in "
                               "your phone's own browser."), code="no_method_for_device")
        raise VendorDown(_("The verification service is busy. Please try again in a few minutes."),
                         code="vendors_down")
    facts = {**device.as_dict(), "passed_over": passed_over, "handoff": handoff}
    if again:
        if not session.choose_method_again(chosen, device=facts):
            return session.method
        logger.info("session=%s auto chose method=%s again on the device continued on", session.pk, chosen)
        return chosen
    if not session.choose_method(chosen, device=facts):
        return session.method  # another window chose first
    logger.info("session=%s auto chose method=%s", session.pk, chosen)
    return chosen


def consent_vendor_names(session: VerificationSession) -> list[str]:
    """The vendors the consent names: for an `auto` session every vendor of
    every method of its order, so that moving on never needs a second consent."""
    return list(dict.fromkeys(
        vendor.DISPLAY_NAME for name in session.possible_methods for vendor in method_of(name).vendors_for(session)
    ))


def consent_vendors(session: VerificationSession) -> str:
    """Who the person's face may go to, as consent names them: for an
    `auto` session every vendor of its order, so that moving to the next
    method never needs a second consent."""
    names = dict.fromkeys(method_of(name).vendor.DISPLAY_NAME for name in session.possible_methods)
    return "、".join(names) if session.locale.startswith("zh") else ", ".join(names)


def require_method(session: VerificationSession) -> Method:
    """The running method; an `auto` session must have chosen one first."""
    if not session.method:
        raise NotNow(_("Your device is being checked. Please reload the page."), code="method_not_chosen")
    return method_of(session.method)


# --- moving on when a vendor is down --------------------------------------------------


def next_method(session: VerificationSession, device: Device | None = None) -> str:
    """The next method of the order after the running one whose vendor is
    up (and, as the session's device reported it, that it can do)."""
    device = device or device_of(session)
    return next(
        (name for name in session.methods_left() if not method_unavailable(method_of(name), device, session)), ""
    )


def device_of(session: VerificationSession) -> Device:
    facts = {k: v for k, v in session.device_facts.items() if k in Device.__dataclass_fields__}
    facts["recorder_types"] = tuple(facts.get("recorder_types") or ())
    return Device(**facts)


def fall_over(session: VerificationSession, error: VendorError) -> str:
    """Moves an `auto` session whose vendor just failed without a bill to the
    next method, giving the attempt back (consent stands). Returns the new
    method, or "" when the session stays (not auto, the call may have been
    billed, no method left, or another process moved it on)."""
    if not session.is_auto or not session.method:
        return ""
    # The busy codes of the vendor that answered (a method may call more than one).
    vendor = VENDORS.get(error.vendor, method_of(session.method).vendor)
    if not may_fall_over(error, unavailable_codes=getattr(vendor, "UNAVAILABLE_CODES", frozenset())):
        return ""
    to = next_method(session)
    if not to:
        return ""
    was = session.method
    if not session.fall_over(to):
        return ""
    logger.warning("session=%s fell over from %s to %s: %s code=%s", session.pk, was, to, type(error).__name__,
                   error.code)
    return to
