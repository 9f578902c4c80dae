"""The session owns its status transitions."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from verification.models import ApiClient, IllegalTransition, VerificationSession

pytestmark = pytest.mark.django_db

S = VerificationSession.Status


def make_session(**kwargs):
    return VerificationSession.objects.create(method="h5", external_ref="ref-1", **kwargs)


def test_a_session_walks_the_documented_path():
    session = make_session()
    session.begin_attempt()
    session.transition(S.PROCESSING)
    session.record_outcome(S.PASSED, reason="passed", vendor_code=200)

    assert (session.status, session.passed, session.vendor_code, session.attempts_used) == ("passed", True, "200", 1)
    assert session.completed_at is not None


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
        session.record_outcome(S.FAILED, reason="not_passed")
    assert session.passed is True


def test_a_retryable_failure_allows_a_new_attempt_until_the_limit():
    session = make_session(max_attempts=2)
    session.begin_attempt()
    session.record_outcome(S.FAILED, reason="not_passed", retryable=True)
    assert session.retry_allowed
    session.begin_attempt()
    assert (session.status, session.passed, session.reason) == ("in_progress", None, "")
    session.record_outcome(S.EXPIRED, reason="token_expired", retryable=True)

    assert not session.retry_allowed
    with pytest.raises(IllegalTransition):
        session.begin_attempt()


def test_a_permanent_error_allows_no_retry():
    session = make_session()
    session.begin_attempt()
    session.record_outcome(S.ERROR, reason="vendor_rejected", retryable=False)
    assert not session.retry_allowed


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


# --- saving only what changed -------------------------------------------------------


def test_a_save_writes_only_what_this_process_changed():
    session = make_session(realname="张三", idcard="11010519491231002X")
    here = VerificationSession.objects.get(pk=session.pk)
    # Another process takes the vendor lease and records a score meanwhile.
    lease = timezone.now() + timedelta(minutes=1)
    VerificationSession.objects.filter(pk=session.pk).update(vendor_busy_until=lease, scores={"live": 97})

    here.reason = "awaiting_result"
    here.save()

    stored = VerificationSession.objects.get(pk=session.pk)
    assert (stored.reason, stored.vendor_busy_until, stored.scores) == ("awaiting_result", lease, {"live": 97})
    assert (stored.realname, stored.idcard) == ("张三", "11010519491231002X")
    assert stored.updated_at > session.updated_at


def test_a_dictionary_changed_in_place_is_saved():
    session = make_session(options={"actions": ["LookFront"]})
    here = VerificationSession.objects.get(pk=session.pk)

    here.options["actions"].append("BlinkEye")
    here.save()

    assert VerificationSession.objects.get(pk=session.pk).options == {"actions": ["LookFront", "BlinkEye"]}


def test_a_changed_id_number_is_saved_with_its_search_hash():
    session = make_session(idcard="11010519491231002X")
    here = VerificationSession.objects.get(pk=session.pk)

    here.idcard = "110105194912310037"
    here.save()

    stored = VerificationSession.objects.get(pk=session.pk)
    assert stored.idcard == "110105194912310037" and stored.idcard_hash == here.idcard_hash != session.idcard_hash


def test_a_session_read_again_saves_against_what_it_read():
    session = make_session()
    VerificationSession.objects.filter(pk=session.pk).update(reason="set_elsewhere")
    session.refresh_from_db()

    session.reason = ""  # back to what it was when first made: still a change against the row
    session.save()

    assert VerificationSession.objects.get(pk=session.pk).reason == ""


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


def test_a_vendor_lease_keeps_a_second_process_out_until_the_answer_is_saved():
    session = make_session(status=S.IN_PROGRESS)
    other_process = VerificationSession.objects.get(pk=session.pk)

    assert session.take_vendor_lease(60)
    assert VerificationSession.objects.get(pk=session.pk).vendor_busy_until > timezone.now()
    assert not other_process.take_vendor_lease(60)

    session.record_outcome(S.PASSED, reason="passed")
    with CaptureQueriesContext(connection) as queries:
        session.save()
        session.end_vendor_lease()

    assert len(queries) == 1  # the answer and the lease's end in one UPDATE
    stored = VerificationSession.objects.get(pk=session.pk)
    assert (stored.status, stored.vendor_busy_until) == (S.PASSED, None)


def test_a_vendor_lease_without_an_answer_saved_is_ended_on_its_own():
    session = make_session(status=S.IN_PROGRESS)
    assert session.take_vendor_lease(60)

    session.end_vendor_lease()

    assert VerificationSession.objects.get(pk=session.pk).vendor_busy_until is None
    assert VerificationSession.objects.get(pk=session.pk).take_vendor_lease(60)


def test_a_lapsed_vendor_lease_is_taken_over():
    session = make_session(status=S.IN_PROGRESS)
    VerificationSession.objects.filter(pk=session.pk).update(vendor_busy_until=timezone.now() - timedelta(seconds=1))

    assert session.take_vendor_lease(60)


