"""Compliance staff's work on sessions: decisions with a required note
(under the four-eyes rule a second reviewer confirms), and the search by ID
number, which is itself a way of learning about a number and is therefore
limited and audited."""

import math
import re
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..domain.errors import InvalidInput
from ..models import AuditEntry, ReviewDecision, VerificationSession
from ..platform import crypto, limits
from ..platform.idcard import idcard_error, normalise_idcard
from .webhooks import SESSION_REVIEWED, webhook_enqueue

# --- decisions -----------------------------------------------------------------------


def decision_needs_second_reviewer(*, session: VerificationSession, decision: str) -> bool:
    """The four-eyes rule: a rejection, or an approval against a vendor outcome
    that did not pass, waits for a second reviewer."""
    if not settings.KYC_FOUR_EYES:
        return False
    return decision == ReviewDecision.Decision.REJECT or (
        decision == ReviewDecision.Decision.APPROVE and session.passed is not True
    )


def session_decide(*, session: VerificationSession, reviewer, decision: str, note: str) -> ReviewDecision:
    """Records a reviewer's decision; final at once unless four eyes are needed."""
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
        AuditEntry.record(actor=reviewer, action=AuditEntry.Action.DECIDE, session=session,
                          detail=f"{decision}{' (awaiting second reviewer)' if made.needs_second_reviewer else ''}")
    return made


def decision_confirm(*, decision: ReviewDecision, reviewer) -> None:
    """The second pair of eyes: another reviewer makes a waiting decision final."""
    if not decision.needs_second_reviewer or decision.confirmed_by_id is not None:
        raise InvalidInput({"decision": "this decision is not waiting for confirmation"})
    if decision.reviewer_id == reviewer.pk:
        raise InvalidInput({"decision": "the second reviewer must be someone else"})
    with transaction.atomic():
        decision.confirm(reviewer=reviewer)
        _apply_decision(decision.session, decision)
        AuditEntry.record(actor=reviewer, action=AuditEntry.Action.DECIDE, session=decision.session,
                          detail=f"confirmed {decision.decision} #{decision.pk}")


def _apply_decision(session: VerificationSession, decision: ReviewDecision) -> None:
    if decision.decision == ReviewDecision.Decision.RETRY:
        session.allow_one_more_attempt()  # the session stays pending review
        return
    approved = decision.decision == ReviewDecision.Decision.APPROVE
    session.record_review(session.ReviewStatus.APPROVED if approved else session.ReviewStatus.REJECTED)
    webhook_enqueue(session=session, event_type=SESSION_REVIEWED)


# --- searching by ID number ----------------------------------------------------------
# The keyed hash finds an exact number in one query, so whoever may search
# can test guesses: one number differs from another in its birth date, and a
# mask that shows the rest leaves a few hundred dates to try. Only staff who
# may see identities search, a limited number of times, and each search
# leaves an audit entry with the hash, never the number.

_IDCARD_SHAPE = re.compile(r"^\d{17}[\dX]$")


class IdcardSearchRefused(Exception):
    """A search by ID number that was not made; `message` tells the staff
    member why. The refusal itself is audited."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def sessions_with_idcard(queryset, term: str):
    """Sessions whose ID number is exactly `term` (an x may be lower case),
    found through the keyed hash: nothing is decrypted. Anything that is not
    a whole 18-character ID number finds nothing."""
    term = normalise_idcard(term)
    if not _IDCARD_SHAPE.match(term):
        return queryset.none()
    return queryset.filter(idcard_hash=crypto.search_hash(term))


def sessions_find_by_idcard(*, actor, idcard: str):
    """The sessions whose ID number is exactly `idcard`, for `actor` (a
    staff user) if they may see identities and have searched fewer than
    ADMIN_IDCARD_SEARCHES times in its window. Otherwise, or for a number
    that is not valid, raises IdcardSearchRefused, having searched nothing."""
    idcard = normalise_idcard(idcard)
    digest = crypto.search_hash(idcard)
    if not actor.has_perm("verification.view_full_identity"):
        AuditEntry.record(actor=actor, action=AuditEntry.Action.SEARCH_REFUSED, detail=f"no permission; hash {digest}")
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
            found = sessions_with_idcard(VerificationSession.objects.all(), idcard)
            AuditEntry.record(actor=actor, action=AuditEntry.Action.SEARCH_IDENTITY,
                              detail=f"hash {digest}; {found.count()} found")
            return found
    AuditEntry.record(actor=actor, action=AuditEntry.Action.SEARCH_REFUSED, detail=f"rate limit; hash {digest}")
    free_at = searched[len(searched) - rate.count] + timedelta(seconds=rate.seconds)
    minutes = max(1, math.ceil((free_at - timezone.now()).total_seconds() / 60))
    raise IdcardSearchRefused(
        _("You have searched by ID number %(count)d times in %(window)d minutes, the most allowed. "
          "Try again in %(minutes)d minutes.")
        % {"count": rate.count, "window": math.ceil(rate.seconds / 60), "minutes": minutes}
    )
