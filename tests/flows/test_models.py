"""The session owns its status transitions, and each says what it writes."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.support.factories import new_session
from verification.domain.errors import IllegalTransition
from verification.domain.outcome import Outcome
from verification.models import ApiClient, VerificationSession

pytestmark = pytest.mark.django_db

S = VerificationSession.Status


def make_session(**kwargs):
    return new_session(method="h5", external_ref="ref-1", **kwargs)


def test_a_session_walks_the_documented_path():
    session = make_session()
    assert session.claim_attempt()
    session.start_processing()
    session.record_outcome(Outcome.passed(vendor="jumdata", vendor_code=200))

    stored = VerificationSession.objects.get(pk=session.pk)
    assert (stored.status, stored.passed, stored.vendor_code, stored.attempts_used) == ("passed", True, "200", 1)
    assert stored.completed_at is not None


@pytest.mark.parametrize(
    "start, target",
    [(S.CREATED, S.PASSED), (S.CREATED, S.PROCESSING), (S.PASSED, S.FAILED), (S.PASSED, S.IN_PROGRESS),
     (S.PROCESSING, S.IN_PROGRESS), (S.FAILED, S.PASSED), (S.EXPIRED, S.PASSED)],
)
def test_an_illegal_transition_raises_and_changes_nothing(start, target):
    session = make_session(status=start)
    with pytest.raises(IllegalTransition):
        session.transition(target)
    assert session.status == start


def test_a_passed_session_cannot_be_overwritten():
    session = make_session(status=S.PASSED, passed=True)
    with pytest.raises(IllegalTransition):
        session.record_outcome(Outcome.failed("not_passed", vendor="jumdata"))
    assert session.passed is True and VerificationSession.objects.get(pk=session.pk).status == S.PASSED


def test_a_retryable_failure_allows_a_new_attempt_until_the_limit():
    session = make_session(max_attempts=2)
    session.claim_attempt()
    session.record_outcome(Outcome.failed("not_passed", vendor="jumdata", retryable=True))
    assert session.retry_allowed
    session.claim_attempt()
    assert (session.status, session.passed, session.reason) == ("in_progress", None, "")
    session.record_outcome(Outcome(S.EXPIRED, "token_expired", retryable=True))

    assert not session.retry_allowed
    with pytest.raises(IllegalTransition):
        session.claim_attempt()


def test_a_permanent_error_allows_no_retry():
    session = make_session()
    session.claim_attempt()
    session.record_outcome(Outcome(S.ERROR, "vendor_rejected", retryable=False))
    assert not session.retry_allowed


def test_an_attempt_given_back_does_not_count():
    session = make_session(max_attempts=1)
    session.claim_attempt()
    session.record_outcome(Outcome(S.ERROR, "vendor_unavailable", retryable=True), give_back_attempt=True)

    stored = VerificationSession.objects.get(pk=session.pk)
    assert (stored.attempts_used, stored.retry_allowed) == (0, True)


def test_an_expired_link_allows_nothing():
    session = make_session(expires_at=timezone.now() - timedelta(seconds=1))
    assert session.is_link_expired and not session.can_start_attempt


def test_link_tokens_are_long_random_and_unique():
    tokens = {make_session().link_token for _ in range(20)}
    assert len(tokens) == 20 and all(len(t) >= 43 for t in tokens)


def test_api_keys_are_kept_only_as_hashes():
    client, key = ApiClient.issue(name="alice")
    (stored,) = client.keys.all()
    assert key not in {stored.key_hash, stored.hint} and stored.hint == key[:13]
    assert ApiClient.authenticate(key) == client
    assert ApiClient.authenticate(key + "x") is None


# --- each change writes its own fields, never another process's ------------------


def test_an_outcome_writes_only_the_outcome():
    session = make_session(status=S.IN_PROGRESS, realname="张三", idcard="11010519491231002X")
    # Another process takes the vendor lease and a reviewer flags the session meanwhile.
    lease = timezone.now() + timedelta(minutes=1)
    VerificationSession.objects.filter(pk=session.pk).update(vendor_busy_until=lease, needs_review=True)

    with CaptureQueriesContext(connection) as queries:
        session.record_outcome(Outcome.passed(vendor="jumdata", vendor_code=200, scores={"sim": 91}))

    assert len(queries) == 1
    stored = VerificationSession.objects.get(pk=session.pk)
    assert (stored.status, stored.scores, stored.vendor_busy_until, stored.needs_review) == (
        S.PASSED, {"sim": 91}, lease, True)
    assert (stored.realname, stored.idcard) == ("张三", "11010519491231002X")
    assert stored.updated_at > session.created_at


def test_a_reviewers_retry_writes_the_limit_the_retry_and_the_expiry_only():
    session = make_session(status=S.FAILED, attempts_used=3, max_attempts=3, reason="not_passed")
    VerificationSession.objects.filter(pk=session.pk).update(reason="set_elsewhere")

    session.allow_one_more_attempt()

    stored = VerificationSession.objects.get(pk=session.pk)
    assert (stored.max_attempts, stored.retryable, stored.reason) == (4, True, "set_elsewhere")
    assert stored.expires_at > timezone.now() + timedelta(hours=23)


def test_the_search_hash_is_set_with_the_id_number_and_outlives_it():
    session = make_session(idcard="11010519491231002X")
    first_hash = session.idcard_hash

    session.set_identity(realname="张三", idcard="110105194912310037")
    session.save(update_fields=["realname", "idcard", "idcard_hash"])
    stored = VerificationSession.objects.get(pk=session.pk)
    assert stored.idcard == "110105194912310037" and stored.idcard_hash == session.idcard_hash != first_hash

    stored.forget_identity()
    forgotten = VerificationSession.objects.get(pk=session.pk)
    assert (forgotten.realname, forgotten.idcard, forgotten.idcard_hash) == ("", "", session.idcard_hash)


def test_claiming_an_attempt_begins_it_in_the_row():
    session = make_session(status=S.FAILED, retryable=True, attempts_used=1, reason="not_passed",
                           challenge_kind="digits", challenge_value="1234")

    assert session.claim_attempt()

    stored = VerificationSession.objects.get(pk=session.pk)
    assert (stored.status, stored.attempts_used, stored.reason, stored.retryable) == (S.IN_PROGRESS, 2, "", False)
    assert (stored.challenge_kind, stored.challenge_value) == ("", "")


def test_an_attempt_claimed_elsewhere_first_is_not_claimed_again():
    session = make_session()
    other_window = VerificationSession.objects.get(pk=session.pk)
    assert other_window.claim_attempt()

    assert not session.claim_attempt()

    stored = VerificationSession.objects.get(pk=session.pk)
    assert stored.attempts_used == 1
    assert (session.status, session.attempts_used) == (S.IN_PROGRESS, 1)  # read again
# --- the vendor lease ---------------------------------------------------------------


def test_a_vendor_lease_keeps_a_second_process_out_until_it_ends():
    session = make_session(status=S.IN_PROGRESS)
    other_process = VerificationSession.objects.get(pk=session.pk)

    with session.vendor_lease(60) as held:
        assert held
        assert VerificationSession.objects.get(pk=session.pk).vendor_busy_until > timezone.now()
        with other_process.vendor_lease(60) as also_held:
            assert not also_held
        session.record_outcome(Outcome.passed(vendor="jumdata"))

    stored = VerificationSession.objects.get(pk=session.pk)
    assert (stored.status, stored.vendor_busy_until) == (S.PASSED, None)


def test_a_lease_is_ended_whatever_the_call_did():
    session = make_session(status=S.IN_PROGRESS)
    with pytest.raises(RuntimeError):
        with session.vendor_lease(60) as held:
            assert held
            raise RuntimeError("the vendor call blew up")

    assert VerificationSession.objects.get(pk=session.pk).vendor_busy_until is None
    with VerificationSession.objects.get(pk=session.pk).vendor_lease(60) as held_again:
        assert held_again


def test_a_lease_is_not_taken_on_a_state_another_process_moved_on():
    session = make_session(status=S.IN_PROGRESS)
    VerificationSession.objects.filter(pk=session.pk).update(status=S.PROCESSING)

    with session.vendor_lease(60) as held:
        assert not held


def test_a_lapsed_vendor_lease_is_taken_over():
    session = make_session(status=S.IN_PROGRESS)
    VerificationSession.objects.filter(pk=session.pk).update(vendor_busy_until=timezone.now() - timedelta(seconds=1))

    with session.vendor_lease(60) as held:
        assert held


# --- cancelling ----------------------------------------------------------------------


@pytest.mark.parametrize("start", [S.CREATED, S.IN_PROGRESS, S.FAILED, S.ERROR, S.EXPIRED])
def test_a_session_without_a_final_outcome_can_be_cancelled_for_good(start):
    session = make_session(status=start, retryable=True)

    assert session.cancel(reason="declined")

    stored = VerificationSession.objects.get(pk=session.pk)
    assert (stored.status, stored.reason, stored.retryable, stored.is_final) == (S.CANCELLED, "declined", False, True)
    assert stored.completed_at is not None and not stored.can_start_attempt
    with pytest.raises(IllegalTransition):
        stored.claim_attempt()


@pytest.mark.parametrize("start", [S.PASSED, S.PROCESSING, S.CANCELLED])
def test_a_passed_session_or_one_being_checked_is_not_cancelled(start):
    session = make_session(status=start)
    with pytest.raises(IllegalTransition):
        session.cancel(reason="cancelled_by_client")
    assert VerificationSession.objects.get(pk=session.pk).status == start


def test_a_cancel_loses_to_an_upload_that_landed_first():
    session = make_session(status=S.IN_PROGRESS)
    VerificationSession.objects.filter(pk=session.pk).update(status=S.PROCESSING)

    assert not session.cancel(reason="declined")
    assert session.status == S.PROCESSING  # read again


def test_only_known_reasons_cancel():
    with pytest.raises(ValueError):
        make_session().cancel(reason="bored")


def test_flagging_for_review_keeps_each_reason_once_in_the_order_it_arose():
    session = make_session(status=S.IN_PROGRESS)
    session.start_processing(review_reasons=("file_upload",))
    session.flag_for_review("virtual_camera", "file_upload")
    session.flag_for_review("file_upload")

    stored = VerificationSession.objects.get(pk=session.pk)
    assert (stored.needs_review, stored.review_reasons) == (True, ["file_upload", "virtual_camera"])


def test_a_session_with_nothing_to_look_at_is_not_flagged():
    session = make_session(status=S.IN_PROGRESS)
    session.start_processing()
    session.flag_for_review()

    stored = VerificationSession.objects.get(pk=session.pk)
    assert (stored.needs_review, stored.review_reasons) == (False, [])
