"""A task worker that dies while a (billed) vendor call is in flight: its
submission stops beating, and another worker's watchdog turns it into a
retryable `vendor_timeout` about half a minute after the death, never
resending the call. Time is a fake clock; the one real worker process is
killed with SIGKILL and the rest is driven by the clock."""

import os
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.conftest import run_due_tasks
from tests.support.http_double import HttpDouble
from tests.support.media_samples import make_video
from tests.support.factories import challenge_shown_ago, new_session, report_for
from verification.domain.outcome import PASSED, Outcome
from verification.methods import method_of
from verification.models import Submission, VendorCall
from verification.services import recorded
from verification.services.recorded import (
    SENDER_SILENT_AFTER,
    check_submission_answered,
    send_submission,
    sender_heartbeat,
)

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
WATCHDOG = "verification.services.recorded.check_submission_answered"
SEND = "verification.services.recorded.send_submission"


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("uploads") / "phone.mp4")


@contextmanager
def clock_at(moment):
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def uploaded(client, clip, method="juhe_video"):
    """A session whose recording was accepted and is waiting for a worker."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    session = new_session(method=method, external_ref="r")
    client.post(f"/v/{session.link_token}/consent")
    client.post(f"/v/{session.link_token}/challenge")
    challenge_shown_ago(session)
    response = client.post(f"/v/{session.link_token}/video", {
        "video": SimpleUploadedFile("phone.mp4", clip.read_bytes(), content_type="video/mp4"), "capture": "recorder",
        "capture_report": report_for("phone.mp4"),
    })
    assert response.status_code == 202, response.content
    return session, Submission.objects.get(session=session)


def sending_since(submission, *, sent_at, heartbeat_at=None):
    """As a worker leaves it: claimed at `sent_at`, last beat at `heartbeat_at`."""
    Submission.objects.filter(pk=submission.pk).update(state="sending", sent_at=sent_at, heartbeat_at=heartbeat_at or sent_at)


def watchdogs():
    """The watchdogs of the sending (the upload's own, minutes later, aside)."""
    soon = timezone.now() + timedelta(seconds=90)
    return list(DBTaskResult.objects.filter(task_path=WATCHDOG, status="READY", run_after__lt=soon).order_by("run_after"))


# --- the watchdog, on a fake clock --------------------------------------------------


def test_a_sender_silent_for_half_a_minute_is_given_up_as_a_retry_and_never_resent(sandbox, client, clip):
    session, submission = uploaded(client, clip)
    death = timezone.now()
    sending_since(submission, sent_at=death - timedelta(seconds=12), heartbeat_at=death)

    with clock_at(death + SENDER_SILENT_AFTER - timedelta(seconds=1)):
        check_submission_answered.call(submission.pk)
    submission.refresh_from_db()
    assert submission.state == "sending"  # not yet: it may only be slow
    (again,) = watchdogs()
    assert again.run_after == death + SENDER_SILENT_AFTER  # looks again when the heartbeat goes stale

    with clock_at(death + SENDER_SILENT_AFTER):
        check_submission_answered.call(submission.pk)

    submission.refresh_from_db()
    session.refresh_from_db()
    assert submission.state == "unanswered"
    assert (session.status, session.reason, session.retry_allowed) == ("error", "vendor_timeout", True)
    assert VendorCall.objects.count() == 0  # never resent
    response = client.get(f"/v/{session.link_token}/status")
    assert response.json()["retry_allowed"] is True
    run_due_tasks()  # whatever is queued (the send task, another watchdog) sends nothing
    assert VendorCall.objects.filter(endpoint="face_vedio/verify").count() == 0


def test_a_sender_that_still_beats_is_left_alone_and_watched_again(sandbox, client, clip):
    session, submission = uploaded(client, clip)
    claimed = timezone.now()
    sending_since(submission, sent_at=claimed, heartbeat_at=claimed + timedelta(seconds=40))

    with clock_at(claimed + timedelta(seconds=60)):
        check_submission_answered.call(submission.pk)

    submission.refresh_from_db()
    session.refresh_from_db()
    assert (submission.state, session.status) == ("sending", "processing")
    assert [task.run_after for task in watchdogs()] == [claimed + timedelta(seconds=40) + SENDER_SILENT_AFTER]


def test_a_sender_that_beats_but_hangs_for_five_minutes_is_given_up(sandbox, client, clip):
    session, submission = uploaded(client, clip)
    claimed = timezone.now()
    sending_since(submission, sent_at=claimed, heartbeat_at=claimed + timedelta(minutes=5))

    with clock_at(claimed + timedelta(minutes=5, seconds=1)):
        check_submission_answered.call(submission.pk)

    session.refresh_from_db()
    assert (session.status, session.reason) == ("error", "vendor_timeout")


def test_a_submission_claimed_before_heartbeats_existed_is_judged_by_its_sending_time(sandbox, client, clip):
    session, submission = uploaded(client, clip)
    claimed = timezone.now()
    Submission.objects.filter(pk=submission.pk).update(state="sending", sent_at=claimed, heartbeat_at=None)

    with clock_at(claimed + SENDER_SILENT_AFTER):
        check_submission_answered.call(submission.pk)

    session.refresh_from_db()
    assert (session.status, session.reason) == ("error", "vendor_timeout")


def test_sending_arms_the_watchdog_before_the_claim_and_beats_the_claim(sandbox, client, clip):
    session, submission = uploaded(client, clip)
    before = timezone.now()

    send_submission.call(submission.pk, 0)

    submission.refresh_from_db()
    session.refresh_from_db()
    assert (submission.state, session.status) == ("answered", "passed")
    assert submission.heartbeat_at >= submission.sent_at >= before
    (watchdog,) = watchdogs()
    assert before + SENDER_SILENT_AFTER <= watchdog.run_after <= timezone.now() + SENDER_SILENT_AFTER
    run_after = watchdog.run_after
    with clock_at(run_after):
        check_submission_answered.call(submission.pk)
    session.refresh_from_db()
    assert session.status == "passed" and watchdogs() == [watchdog]  # an answered one is left alone


def test_an_answer_that_arrives_after_the_sender_was_given_up_is_not_applied(sandbox, client, clip, monkeypatch):
    """The sender was alive but could not beat (say the database was away):
    another worker gave it up and the person was offered a retry. When its
    answer finally arrives it must not overwrite what the person saw."""
    session, submission = uploaded(client, clip)
    method = method_of("juhe_video")

    def send_while_given_up(session_, submission_, path, *, recorder):
        with clock_at(timezone.now() + SENDER_SILENT_AFTER + timedelta(seconds=1)):
            check_submission_answered.call(submission_.pk)  # another worker's watchdog
        return Outcome(PASSED, "", vendor="juhe")

    monkeypatch.setattr(type(method), "send", lambda self, *args, **kwargs: send_while_given_up(*args, **kwargs))

    send_submission.call(submission.pk, 0)

    submission.refresh_from_db()
    session.refresh_from_db()
    assert submission.state == "unanswered"
    assert (session.status, session.reason, session.retry_allowed) == ("error", "vendor_timeout", True)


def test_a_send_task_lost_with_its_worker_before_sending_is_queued_again(sandbox, client, clip):
    """The worker died while normalising (or the database went away under
    it): the task row stays RUNNING, the submission `received`. The
    upload's watchdog queues the send again; nothing had been sent."""
    session, submission = uploaded(client, clip)
    sends = DBTaskResult.objects.filter(task_path=SEND)
    (upload_watchdog,) = DBTaskResult.objects.filter(task_path=WATCHDOG)
    assert upload_watchdog.run_after - timezone.now() > timedelta(seconds=100)  # SEND_TASK_LOST_AFTER
    started = timezone.now()
    sends.update(status="RUNNING", started_at=started)  # taken by a worker that then died

    with clock_at(started + timedelta(seconds=60)):
        check_submission_answered.call(submission.pk)
    assert sends.count() == 1  # too soon to tell: it may still be normalising

    with clock_at(started + timedelta(minutes=2, seconds=1)):
        check_submission_answered.call(submission.pk)
    assert sends.filter(status="READY").count() == 1
    run_due_tasks()

    session.refresh_from_db()
    assert session.status == "passed"
    assert VendorCall.objects.filter(endpoint="face_vedio/verify").count() == 1


def test_a_waiting_send_task_is_not_queued_twice(sandbox, client, clip):
    session, submission = uploaded(client, clip)

    with clock_at(timezone.now() + timedelta(minutes=3)):
        check_submission_answered.call(submission.pk)

    assert DBTaskResult.objects.filter(task_path=SEND).count() == 1


def test_a_vendor_answer_waits_for_a_database_that_restarts_and_is_recorded(sandbox, client, clip, monkeypatch):
    """PostgreSQL restarts between the vendor's answer and its recording:
    the answer and the outcome are one transaction, tried again, not lost
    (nor left half-written: an `answered` submission of a `processing` session)."""
    session, submission = uploaded(client, clip)
    real_finish = recorded.finish
    failures = iter([OperationalError("terminating connection due to administrator command")])

    def finish_after_a_restart(*args, **kwargs):
        for error in failures:
            raise error
        return real_finish(*args, **kwargs)

    monkeypatch.setattr(recorded, "finish", finish_after_a_restart)
    monkeypatch.setattr(recorded.time, "sleep", lambda seconds: None)

    send_submission.call(submission.pk, 0)

    submission.refresh_from_db()
    session.refresh_from_db()
    assert (submission.state, session.status) == ("answered", "passed")
    assert VendorCall.objects.filter(endpoint="face_vedio/verify").count() == 1


# --- the heartbeat ------------------------------------------------------------------


class Ticks:
    """A stop event that lets `beats` waits pass, then says stop."""

    def __init__(self, beats):
        self.beats = beats

    def wait(self, seconds):
        self.beats -= 1
        return self.beats < 0


def test_the_heartbeat_writes_the_time_at_each_beat(sandbox, client, clip):
    _session, submission = uploaded(client, clip)
    claimed = timezone.now()
    sending_since(submission, sent_at=claimed)

    with clock_at(claimed + timedelta(seconds=20)):
        sender_heartbeat(submission.pk, Ticks(2))

    submission.refresh_from_db()
    assert submission.heartbeat_at == claimed + timedelta(seconds=20)


def test_the_heartbeat_stops_once_the_submission_is_no_longer_sending(sandbox, client, clip):
    _session, submission = uploaded(client, clip)  # received, not sending
    ticks = Ticks(5)

    sender_heartbeat(submission.pk, ticks)

    assert ticks.beats == 4  # one beat found nothing to beat for, and the thread ended
    submission.refresh_from_db()
    assert submission.heartbeat_at is None


def test_the_heartbeat_outlives_a_database_that_is_away(sandbox, client, clip, monkeypatch):
    _session, submission = uploaded(client, clip)
    claimed = timezone.now()
    sending_since(submission, sent_at=claimed)
    real_beat = Submission.beat.__func__
    failures = iter([OperationalError("server closed the connection unexpectedly")])

    def beat(cls, pk):
        for error in failures:
            raise error
        return real_beat(cls, pk)

    monkeypatch.setattr(Submission, "beat", classmethod(beat))

    with clock_at(claimed + timedelta(seconds=20)):
        sender_heartbeat(submission.pk, Ticks(2))

    submission.refresh_from_db()
    assert submission.heartbeat_at == claimed + timedelta(seconds=20)


# --- a real worker, killed mid-call -----------------------------------------------------


needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="a worker in another process needs a shared server database"
)


@needs_postgresql
def test_a_worker_killed_mid_call_is_noticed_by_the_watchdog_and_the_call_is_never_resent(client, clip, settings,
                                                                                          tmp_path):
    from tests.flows.test_workers import worker_database_url

    arrived, release = threading.Event(), threading.Event()

    def hold(request):
        arrived.set()
        release.wait(60)
        return 200, {"Content-Type": "application/json"}, b'{"error_code": 0, "result": {}}'

    settings.MEDIA_ROOT = tmp_path / "media"
    with HttpDouble() as juhe:
        juhe.respond = hold
        settings.JUHE_BASE_URL = juhe.url
        session, submission = uploaded(client, clip)
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--interval", "0.1", "--no-startup-delay", "--no-reload"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**os.environ, "DATABASE_URL": worker_database_url(), "DJANGO_SETTINGS_MODULE": "kyc_portal.test_settings",
                 "KYC_TEST_MEDIA_ROOT": str(settings.MEDIA_ROOT), "JUHE_BASE_URL": juhe.url},
        )
        try:
            assert arrived.wait(60), worker.stderr.read1().decode()[-2000:] if worker.poll() is not None else "no call"
            worker.send_signal(signal.SIGKILL)  # mid-call: the request left, no answer read
            worker.wait(10)
            killed_at = timezone.now()
        finally:
            if worker.poll() is None:
                worker.kill()
            release.set()
        submission.refresh_from_db()
        assert submission.state == "sending" and submission.heartbeat_at is not None
        assert killed_at - submission.heartbeat_at < timedelta(seconds=11)

        with clock_at(killed_at + timedelta(seconds=5)):
            check_submission_answered.call(submission.pk)
        submission.refresh_from_db()
        assert submission.state == "sending"  # too soon to tell
        with clock_at(submission.heartbeat_at + SENDER_SILENT_AFTER):
            check_submission_answered.call(submission.pk)

        session.refresh_from_db()
        assert (session.status, session.reason, session.retry_allowed) == ("error", "vendor_timeout", True)
        assert (submission.heartbeat_at + SENDER_SILENT_AFTER) - killed_at <= SENDER_SILENT_AFTER  # within 30 s
        run_due_tasks()
        assert len(juhe.requests) == 1  # never resent


def test_the_silence_allowed_is_well_inside_the_ninety_seconds_promised():
    assert SENDER_SILENT_AFTER + timedelta(seconds=recorded.SENDER_HEARTBEAT.total_seconds()) < timedelta(seconds=90)


def test_a_vendor_call_record_waits_for_a_database_that_restarts(sandbox, client, clip, monkeypatch):
    """The database restarts just as the vendor answers: the call's row
    (what was billed) waits for it, and the verdict is recorded."""
    from verification.services import vendor_calls

    session, submission = uploaded(client, clip)
    real_create = VendorCall.objects.create
    failures = iter([OperationalError("terminating connection due to administrator command")])

    def create_after_a_restart(**fields):
        for error in failures:
            raise error
        return real_create(**fields)

    monkeypatch.setattr(VendorCall.objects, "create", create_after_a_restart)
    monkeypatch.setattr(vendor_calls.time, "sleep", lambda seconds: None)

    send_submission.call(submission.pk, 0)

    session.refresh_from_db()
    assert session.status == "passed"
    assert VendorCall.objects.filter(endpoint="face_vedio/verify").count() == 1
