"""Continuing a session on another device: the short link behind the QR
code, and what opening it does. The original page follows the session
through its status and finishes when the other device does."""

import logging
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..domain.errors import LinkExpired, NotNow
from ..models import Handoff, VerificationSession
from .sessions import refuse_if_link_expired

logger = logging.getLogger(__name__)

# A hand-off link with less than this left is not shown again: the person
# needs time to pick up the phone and finish there.
MIN_TIME_LEFT = timedelta(minutes=10)


class HandoffNotFound(Exception):
    """No hand-off link has this code."""


def session_hand_off(*, session: VerificationSession) -> Handoff:
    """The short link that continues `session` elsewhere: a live one is
    reused, so reloading the page does not pile up links."""
    refuse_if_link_expired(session)
    if session.is_final:
        raise NotNow(_("This verification is finished."), code="finished")
    now = timezone.now()
    # Near the session link's own end, a link that lasts until then is as good as it gets.
    enough = min(now + MIN_TIME_LEFT, session.expires_at)
    handoff = session.handoffs.filter(expires_at__gte=enough).order_by("-expires_at").first()
    if handoff is None:
        handoff = Handoff.objects.create(
            session=session, code=Handoff.new_code(), expires_at=min(now + Handoff.LIFETIME, session.expires_at)
        )
    return handoff


def handoff_open(*, code: str) -> VerificationSession:
    """The session a hand-off link leads to; notes the first opening, which
    the original page shows ("opened on your phone")."""
    handoff = Handoff.objects.select_related("session").filter(code=code.strip().lower()).first()
    if handoff is None:
        raise HandoffNotFound(code)
    if not handoff.is_live():
        raise LinkExpired(
            _("This link has expired. On the device where you started, choose “Continue on your phone” again."),
            code="handoff_expired",
        )
    handoff.mark_opened()
    logger.info("hand-off opened session=%s", handoff.session_id)
    return handoff.session


def session_opened_elsewhere(session: VerificationSession) -> bool:
    return session.handoffs.filter(opened_at__isnull=False).exists()
