"""Hosted-page methods (`h5`): the person passes the vendor's own page and
comes back; the verdict is fetched server to server, once per answer, by
one polling chain per attempt, and kept even when the person never returns.

The chain's next poll is kept on the session (`result_poll_due_at`): every
queued wake-up carries its time and does nothing once superseded, and the
vendor lease lets one fetch at a time call, so reloads, tabs and tasks never
multiply the (billed) calls."""

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, InterfaceError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_tasks import task

from ..domain.errors import DatabaseDown, WrongStep
from ..domain.outcome import ERROR, Outcome, Pending
from ..methods import method_of
from ..methods.base import vendor_failure
from ..models import VerificationSession
from ..vendors.base import VendorError, backoff_seconds, should_retry
from ..vendors.transport import VendorCallRecord
from .messages import DATABASE_DOWN_MESSAGE
from .outcomes import finish
from .routing import fall_over, require_method
from .sessions import begin_attempt, refuse_if_link_expired, refuse_without_consent
from .vendor_calls import recorder_for

logger = logging.getLogger(__name__)

VENDOR_LEASE_SECONDS = 60
# Polls of the vendor's result right after the person came back without a
# final answer (1 + 2 + 4 + 8 + 16 s); then the chain sleeps until the
# reconciliation shortly before the vendor's token dies.
QUICK_POLLS = 5
# A start the database failed in the middle of (a restart) waits this long
# for it to come back, to leave the session so that the next try works.
RESCUE_FOR_SECONDS = 20
# A database gone away: psycopg's errors for a cut connection are either.
DATABASE_ERRORS = (DatabaseError, InterfaceError)
# The reason of an attempt ended so: offered as a retry.
DATABASE_UNAVAILABLE = "database_unavailable"


def session_start_hosted(*, session: VerificationSession, return_url: str, ip: str = "") -> str:
    """Where to send the browser: the vendor's page for the current attempt,
    starting a new (billed) attempt only when none is running; "" when the
    vendor could not start one (the session then shows why), or when an
    `auto` session fell over to a recorded method (the page shows it). A
    vendor down before billing moves an `auto` session on to its next
    method at once; the next hosted one is started in the same request.

    The database going away mid-start (a restart) answers DatabaseDown
    (503) and leaves the session so that trying again works: the vendor's
    token, when the call got one, is kept for the retry (never asked for
    twice); otherwise the attempt ends `database_unavailable`, given back
    unless the call may have been billed, and the retry begins a new one.
    A start that could not even do that (the database away for longer, the
    process killed) is settled by the next try once its lease lapsed."""
    method = require_method(session)
    if not method.is_hosted:
        raise WrongStep(_("This verification does not use the H5 page."), code="wrong_method")
    refuse_if_link_expired(session)
    refuse_without_consent(session)
    in_flight = session.status in (session.Status.IN_PROGRESS, session.Status.PROCESSING)
    if in_flight and session.has_live_vendor_token():
        session.expect_return()  # back to the same page: the return that follows may ask once more
        return method.hosted_url(session)
    try:
        if session.start_lost():
            _settle_lost_start(session)
        begin_attempt(session, ip=ip, vendor_lease_seconds=VENDOR_LEASE_SECONDS)
    except DATABASE_ERRORS as error:
        # Nothing was begun (or the claim's answer was lost: its lease lapses).
        raise _database_down(session, error, "before the attempt began") from error
    made: list[VendorCallRecord] = []  # this start's vendor calls, noted before they are recorded
    unrecorded: list = []  # (call, error): records the database refused; the call's answer is not thrown away
    started = None
    try:
        try:
            started = method.start(session, return_url=return_url,
                                   recorder=_noting(recorder_for(session), made, unrecorded))
        except VendorError as error:
            if fall_over(session, error):
                if method_of(session.method).is_hosted:
                    return session_start_hosted(session=session, return_url=return_url, ip=ip)
                return ""
            finish(session, vendor_failure(error), give_back_attempt=error.billed is False)
            return ""
        if unrecorded:
            raise unrecorded[0][1]
        # The attempt's polling chain starts asleep: its first link is the
        # reconciliation shortly before the token dies; the person's return wakes it.
        _keep_start(session, started)
    except DATABASE_ERRORS as error:
        _rescue_start(session, started=started, made=made, unrecorded=unrecorded)
        raise _database_down(session, error, "mid-start") from error
    return started.url


def _keep_start(session: VerificationSession, started) -> None:
    session.start_hosted_check(
        vendor_token=started.vendor_token, task_no=started.task_no, token_expires_at=started.token_expires_at,
        first_poll_at=reconcile_at(started.token_expires_at), vendor_url=started.url,
    )
    _enqueue_poll(session, tries=0)


def _noting(recorder, made: list, unrecorded: list):
    """`recorder`, noting each call first; a record the database refuses is
    kept for the rescue instead of failing the call (its answer, a billed
    token perhaps, must not be lost with it)."""

    def record(call: VendorCallRecord) -> None:
        made.append(call)
        try:
            recorder(call)
        except DATABASE_ERRORS as error:
            unrecorded.append((call, error))

    return record


def _database_down(session: VerificationSession, error: Exception, when: str) -> DatabaseDown:
    logger.error("session=%s h5 start: database unavailable %s: %s", session.pk, when, type(error).__name__)
    return DatabaseDown(DATABASE_DOWN_MESSAGE, code="service_unavailable")


def _rescue_start(session: VerificationSession, *, started, made: list, unrecorded: list) -> None:
    """Leaves a start the database failed in the middle of so that the
    person's next try works, waiting up to RESCUE_FOR_SECONDS for the
    database to come back; if it does not, the start's lease lapses and the
    next try settles it (`_settle_lost_start`)."""
    if connection.in_atomic_block:
        return
    deadline = time.monotonic() + RESCUE_FOR_SECONDS
    while True:
        connection.close()  # a connection the restart cut is useless: the next query opens another
        try:
            _leave_for_retry(session, started=started, made=made, unrecorded=unrecorded)
            return
        except DATABASE_ERRORS as error:
            if time.monotonic() > deadline:
                logger.error("session=%s h5 start not settled (%s): the next try settles it", session.pk,
                             type(error).__name__)
                return
            time.sleep(1)


def _leave_for_retry(session: VerificationSession, *, started, made: list, unrecorded: list) -> None:
    record = recorder_for(session)
    while unrecorded:
        record(unrecorded[0][0])
        unrecorded.pop(0)
    session.refresh_from_db()
    if session.status != session.Status.IN_PROGRESS:
        return  # the attempt already ended (recorded before the failure)
    if started is not None and session.vendor_token in ("", started.vendor_token):
        # The vendor's token (a billed call) is kept: the retry goes to its page.
        _keep_start(session, started)
        logger.warning("session=%s h5 start: vendor token kept for the retry", session.pk)
        return
    if not session.vendor_token:
        billed_maybe = any(call.billed is not False for call in made)
        finish(session, Outcome(ERROR, DATABASE_UNAVAILABLE, retryable=True), give_back_attempt=not billed_maybe)
        logger.warning("session=%s h5 start: attempt ended %s (given back: %s)", session.pk, DATABASE_UNAVAILABLE,
                       not billed_maybe)


def _settle_lost_start(session: VerificationSession) -> None:
    """An attempt whose start never kept the vendor's token and whose lease
    lapsed (`start_lost`) ends `database_unavailable`, retryable: the call,
    if made, is never made again for it. Given back only when every call
    recorded since it began is known not billed; no record at all means
    the record may have been lost with the database, so it counts."""
    began = (session.vendor_busy_until - timedelta(seconds=VENDOR_LEASE_SECONDS)) if session.vendor_busy_until else None
    now = timezone.now()
    taken = VerificationSession.objects.filter(
        pk=session.pk, status=session.Status.IN_PROGRESS, vendor_token="", vendor_busy_until=session.vendor_busy_until,
    ).update(vendor_busy_until=now + timedelta(seconds=VENDOR_LEASE_SECONDS))
    if taken != 1:
        session.refresh_from_db()
        return  # another request settled it, or began a start of its own: begin_attempt says so
    session.vendor_busy_until = now + timedelta(seconds=VENDOR_LEASE_SECONDS)
    calls = session.vendor_calls.all()
    if began is not None:
        calls = calls.filter(created_at__gte=began)
    billed = list(calls.values_list("billed", flat=True))
    give_back = bool(billed) and all(value is False for value in billed)
    finish(session, Outcome(ERROR, DATABASE_UNAVAILABLE, retryable=True), give_back_attempt=give_back)
    logger.warning("session=%s h5 start lost mid-way: attempt ended %s (given back: %s)", session.pk,
                   DATABASE_UNAVAILABLE, give_back)


def session_returned(*, session: VerificationSession) -> None:
    """The person is back from the vendor's page (its return address, a GET
    by the vendor's protocol). The first return after each visit asks for
    the result at once, taking over the attempt's polling chain; any other
    load of the address (a reload, a second tab, a return while a fetch is in
    flight) calls nobody and the page shows what is known."""
    if session.status not in (session.Status.IN_PROGRESS, session.Status.PROCESSING):
        return
    if session.take_return():
        _collect(session, tries=0)


def session_collect_result(*, session: VerificationSession, vendor_token: str, tries: int = 0,
                           due: str = "") -> VerificationSession:
    """One link of an attempt's polling chain (a queued task): asks the
    vendor for the result and records it, then queues the next link if the
    answer is not final. A wake-up queued for another time than the chain's
    next poll (`due`, ISO 8601) was superseded and calls nobody; so does one
    for an older attempt or after the answer is in."""
    if session.vendor_token != vendor_token or session.status not in (
        session.Status.IN_PROGRESS,
        session.Status.PROCESSING,
    ):
        return session
    # Wake-ups queued before the chain was kept on the session carry no time.
    due_at = datetime.fromisoformat(due) if due else None
    if session.result_poll_due_at != due_at:
        return session
    if not _collect(session, tries=tries):
        _check_again_after_lease(session, tries=tries, due_at=due_at)
    return session


def _collect(session: VerificationSession, *, tries: int) -> bool:
    """Fetches and records the result under the vendor lease; False, calling
    nobody, when another fetch holds the lease or moved the attempt on."""
    method = method_of(session.method)
    with session.vendor_lease(VENDOR_LEASE_SECONDS) as held:
        if not held:
            return False
        try:
            result = method.collect(session, recorder=recorder_for(session))
        except VendorError as error:
            _after_unanswered(session, error=error, tries=tries)
        else:
            if isinstance(result, Pending):
                _continue_polling(session, result, tries=tries)
            else:
                finish(session, result)
    return True


def _check_again_after_lease(session: VerificationSession, *, tries: int, due_at) -> None:
    """A chain link that found another fetch in flight: that fetch records
    the answer and moves the chain on. Should it die without doing so (its
    process killed), this link is tried again when the lease has run out."""
    session.refresh_from_db(fields=["status", "vendor_token", "vendor_busy_until", "result_poll_due_at"])
    in_flight = session.status in (session.Status.IN_PROGRESS, session.Status.PROCESSING)
    if in_flight and session.vendor_busy_until and due_at and session.result_poll_due_at == due_at:
        _enqueue_poll(session, tries=tries, run_at=session.vendor_busy_until)


def _after_unanswered(session: VerificationSession, *, error: VendorError, tries: int) -> None:
    """No usable answer: asked again later when that can help and bills
    nothing; otherwise the attempt ends on the vendor's error."""
    method = method_of(session.method)
    if should_retry(error, retryable_codes=method.result_retry_codes, billed_call=False):
        _continue_polling(session, Pending("vendor_unavailable", vendor_code=str(error.code or "")), tries=tries)
        return
    finish(session, vendor_failure(error))


def _continue_polling(session: VerificationSession, pending: Pending, *, tries: int) -> None:
    """Saves a non-final answer with the chain's next link, and queues it;
    past the token's life the attempt ends instead."""
    planned = next_poll(now=timezone.now(), token_expires_at=session.vendor_token_expires_at, tries=tries)
    if planned is not None:
        next_at, next_tries = planned
        # Saved before the wake-up is queued: it must find its time on the row.
        session.record_pending(reason=pending.reason, vendor_code=pending.vendor_code, next_poll_at=next_at)
        _enqueue_poll(session, tries=next_tries)
        return
    # The token is dead and the vendor never gave a final answer.
    if pending.reason == "awaiting_result":
        finish(session, method_of(session.method).expired_outcome())
    else:
        finish(session, Outcome(ERROR, "vendor_unavailable", retryable=True))


def next_poll(*, now, token_expires_at, tries: int):
    """When to ask the vendor again after a non-final answer, and the next
    link's `tries`; None to stop.

    Quick polls with backoff right after the person's return; then the chain
    sleeps until the reconciliation shortly before the token dies; from then
    on backoff until just past the expiry, when the vendor answers for good."""
    reconcile = reconcile_at(token_expires_at)
    give_up_at = token_expires_at + timedelta(seconds=30)
    at = now + timedelta(seconds=backoff_seconds(tries))
    if at < reconcile and tries >= QUICK_POLLS:
        return reconcile, 0
    return (at, tries + 1) if at <= give_up_at else None


def reconcile_at(token_expires_at):
    """The last look before the vendor's token dies: a billed outcome is
    kept even if the person never came back."""
    return token_expires_at - timedelta(seconds=settings.JUMDATA_RECONCILE_BEFORE_EXPIRY_SECONDS)


def _enqueue_poll(session: VerificationSession, *, tries: int, run_at=None) -> None:
    """Queues a wake-up for the chain's next link (`result_poll_due_at`)."""
    due = session.result_poll_due_at
    args = (str(session.pk), session.vendor_token, tries, due.isoformat())
    transaction.on_commit(lambda: collect_hosted_result.using(run_after=run_at or due).enqueue(*args))


@task()
def collect_hosted_result(session_id: str, vendor_token: str, tries: int = 0, due: str = "") -> None:
    """Fetches a hosted page's result the browser may never come back for."""
    session = VerificationSession.objects.select_related("client").get(pk=session_id)
    session_collect_result(session=session, vendor_token=vendor_token, tries=tries, due=due)
