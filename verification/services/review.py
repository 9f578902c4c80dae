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
from django.db.models import Case, Exists, IntegerField, OuterRef, Q, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import vendors
from ..domain import review_policy
from ..domain.errors import InvalidInput
from ..models import AuditEntry, CaseNote, ReviewDecision, VerificationSession
from ..platform import crypto, limits
from ..platform.idcard import idcard_error, normalise_idcard
from .webhooks import SESSION_REVIEWED, webhook_enqueue

# --- triage ----------------------------------------------------------------------------


def session_review_facts(session: VerificationSession) -> review_policy.Facts:
    """What the review policy looks at, read from the session and its calls."""
    calls = list(session.vendor_calls.order_by("created_at", "pk").values_list("vendor", "vendor_code", "billed"))
    billed_calls = [(vendor, code) for vendor, code, billed in calls if billed]
    return review_policy.Facts(
        status=session.status, passed=session.passed, reason=session.reason, scores=session.scores,
        noted=tuple(session.review_reasons), review_status=session.review_status,
        verdicts=review_policy.verdicts_from_calls(
            billed_calls, success_codes={name: module.SUCCESS_CODES for name, module in vendors.VENDORS.items()},
            outcome_vendor=session.outcome_vendor, passed=session.passed,
        ),
        # A call sent and never answered (billed unknown) may have been billed.
        billed=any(billed is not False for _vendor, _code, billed in calls),
    )


def session_triage(*, session: VerificationSession) -> review_policy.Triage:
    """Applies the review policy to the session's outcome and saves its answer."""
    decided = review_policy.triage(session_review_facts(session), review_policy.Policy.from_settings())
    session.record_triage(decided.review_status, decided.reasons)
    return decided


# --- claims --------------------------------------------------------------------------


class CaseTaken(InvalidInput):
    """Another reviewer holds the case, or decided it first."""


def claim_idle() -> timedelta:
    return timedelta(minutes=settings.KYC_REVIEW_CLAIM_IDLE_MINUTES)


def case_claim(*, session: VerificationSession, reviewer, now=None) -> None:
    """Claims the case for `reviewer` (or keeps their claim alive); raises
    CaseTaken when someone else holds a live claim or it needs no review."""
    now = now or timezone.now()
    mine = session.claimed_by_id == reviewer.pk and not session.claim_lapsed(now, claim_idle())
    if not session.take_claim(reviewer, now=now, idle=claim_idle()):
        raise CaseTaken({"claim": _taken_message(session)})
    if not mine:
        AuditEntry.record(actor=reviewer, action=AuditEntry.Action.CLAIM, session=session)


def case_next(*, reviewer, now=None) -> VerificationSession | None:
    """Claims, for `reviewer`, the oldest case in the queue nobody holds (a
    claim of their own first): None when the queue has nothing for them."""
    now = now or timezone.now()
    free = Q(claimed_by=None) | Q(claimed_at=None) | Q(claimed_at__lte=now - claim_idle()) | Q(claimed_by=reviewer.pk)
    # A case waiting for a second reviewer is not offered to the first one.
    own_waiting = ReviewDecision.objects.filter(session=OuterRef("pk"), needs_second_reviewer=True,
                                                confirmed_by=None, reviewer=reviewer)
    waiting = (VerificationSession.objects.filter(review_status=VerificationSession.ReviewStatus.NEEDS_REVIEW)
               .filter(free).exclude(Exists(own_waiting)))
    mine_first = Case(When(claimed_by=reviewer.pk, then=0), default=1, output_field=IntegerField())
    for session in waiting.order_by(mine_first, "queued_at", "created_at")[:20]:
        try:
            case_claim(session=session, reviewer=reviewer, now=now)
        except CaseTaken:
            continue  # taken between the query and the claim: the next one
        return session
    return None


def case_release(*, session: VerificationSession, reviewer) -> None:
    session.release_claim(holder=reviewer)


def case_reassign(*, session: VerificationSession, actor, to, now=None) -> None:
    """A supervisor gives the case to another reviewer."""
    if not actor.has_perm("verification.reassign_case"):
        raise InvalidInput({"claim": _("Only supervisors reassign cases.")})
    if not to.has_perm("verification.review_session"):
        raise InvalidInput({"claim": _("%(user)s does not review cases.") % {"user": to.get_username()}})
    session.reassign_claim(to, now=now or timezone.now())
    AuditEntry.record(actor=actor, action=AuditEntry.Action.REASSIGN, session=session,
                      detail=f"to {to.get_username()}")


def case_note(*, session: VerificationSession, author, text: str) -> CaseNote:
    """A note on the case, without deciding."""
    if not text.strip():
        raise InvalidInput({"note": _("Write the note first.")})
    note = CaseNote.objects.create(session=session, author=author, text=text.strip())
    AuditEntry.record(actor=author, action=AuditEntry.Action.NOTE, session=session)
    if session.claimed_by_id == author.pk:
        session.take_claim(author, now=timezone.now(), idle=claim_idle())  # activity keeps the claim alive
    return note


def _taken_message(session: VerificationSession) -> str:
    if session.review_status != session.ReviewStatus.NEEDS_REVIEW:
        return str(_("This case no longer needs review."))
    holder = session.claimed_by.get_username() if session.claimed_by else "?"
    return str(_("%(user)s is working on this case.") % {"user": holder})


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
    """Records a reviewer's decision; final at once unless four eyes are
    needed. The reviewer takes the case first (one conditional UPDATE, which
    on PostgreSQL also holds the row until the decision commits): of two
    reviewers deciding at once, the second is refused."""
    if decision not in ReviewDecision.Decision.values:
        raise InvalidInput({"decision": f"one of {', '.join(ReviewDecision.Decision.values)}"})
    if not note.strip():
        raise InvalidInput({"note": "a note is required for every decision"})
    if session.status not in session.OUTCOME_STATUSES:
        raise InvalidInput({"decision": "the session has no outcome yet"})
    if session.review_status != session.ReviewStatus.NEEDS_REVIEW:
        raise InvalidInput({"decision": "this session does not need review"})
    with transaction.atomic():
        case_claim(session=session, reviewer=reviewer)
        if session.decisions.filter(needs_second_reviewer=True, confirmed_by=None).exists():
            raise InvalidInput({"decision": "a decision is waiting for a second reviewer"})
        made = ReviewDecision.objects.create(
            session=session, decision=decision, note=note.strip(), reviewer=reviewer,
            needs_second_reviewer=decision_needs_second_reviewer(session=session, decision=decision),
        )
        if made.needs_second_reviewer:
            session.flag_for_review(review_policy.FOUR_EYES)
            session.release_claim(holder=reviewer)  # for a second reviewer to take
        else:
            _apply_decision(session, made, reviewer)
        AuditEntry.record(actor=reviewer, action=AuditEntry.Action.DECIDE, session=session,
                          detail=f"{decision}{' (awaiting second reviewer)' if made.needs_second_reviewer else ''}")
    return made


def decision_confirm(*, decision: ReviewDecision, reviewer) -> None:
    """The second pair of eyes: another reviewer makes a waiting decision final."""
    if not decision.needs_second_reviewer or decision.confirmed_by_id is not None:
        raise InvalidInput({"decision": "this decision is not waiting for confirmation"})
    if decision.reviewer_id == reviewer.pk:
        raise InvalidInput({"decision": "the second reviewer must be someone else"})
    session = decision.session
    with transaction.atomic():
        case_claim(session=session, reviewer=reviewer)
        if not decision.confirm(reviewer=reviewer):
            raise CaseTaken({"decision": "another reviewer confirmed it first"})
        _apply_decision(session, decision, reviewer)
        AuditEntry.record(actor=reviewer, action=AuditEntry.Action.DECIDE, session=session,
                          detail=f"confirmed {decision.decision} #{decision.pk}")


def _apply_decision(session: VerificationSession, decision: ReviewDecision, reviewer) -> None:
    if decision.decision == ReviewDecision.Decision.RETRY:
        session.allow_one_more_attempt()  # still needs review; the next outcome is triaged again
        session.release_claim(holder=reviewer)
        return
    approved = decision.decision == ReviewDecision.Decision.APPROVE
    if not session.record_review(session.ReviewStatus.APPROVED if approved else session.ReviewStatus.REJECTED,
                                 reviewer=reviewer):
        raise CaseTaken({"decision": _taken_message(session)})
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
