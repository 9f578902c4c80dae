"""Media storage that is full or away (ENOSPC, an S3 endpoint that does
not answer): an upload is refused with 503 and nothing kept, a queued send
waits for the storage and then asks the person again, and a vendor's
verdict is recorded even when its pictures cannot be kept. Nobody is left
on "checking…"."""

import errno
from contextlib import contextmanager
from unittest import mock

import pytest
from django.core.files.storage import FileSystemStorage
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.flows.test_dead_sender import uploaded
from tests.support.factories import challenge_shown_ago, new_session, report_for
from tests.support.media_samples import make_video
from verification.models import SessionImage, Submission, VendorCall
from verification.services.recorded import STORAGE_RETRY_EVERY, STORAGE_RETRY_FOR, send_submission

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("uploads") / "phone.mp4")


@contextmanager
def full_disk():
    def no_room(self, name, content):
        raise OSError(errno.ENOSPC, "No space left on device")

    with mock.patch.object(FileSystemStorage, "_save", no_room):
        yield


def test_an_upload_to_a_full_disk_is_refused_with_503_and_the_person_may_upload_again(client, clip, caplog):
    from django.core.files.uploadedfile import SimpleUploadedFile

    session = new_session(method="juhe_video", external_ref="r")
    client.post(f"/v/{session.link_token}/consent")
    client.post(f"/v/{session.link_token}/challenge")
    challenge_shown_ago(session)

    def send():
        return client.post(f"/v/{session.link_token}/video", {
            "video": SimpleUploadedFile("phone.mp4", clip.read_bytes(), content_type="video/mp4"), "capture": "recorder",
            "capture_report": report_for("phone.mp4"),
        })

    with full_disk():
        refused = send()

    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "storage_unavailable"
    session.refresh_from_db()
    assert session.status == "in_progress" and Submission.objects.count() == 0
    assert "not stored: media storage unavailable: OSError" in caplog.text
    assert send().status_code == 202  # room again: the same attempt goes through


def test_a_send_that_cannot_keep_its_vendor_ready_file_waits_for_the_storage(sandbox, client, clip):
    session, submission = uploaded(client, clip)

    with full_disk():
        send_submission.call(submission.pk, 0)

    submission.refresh_from_db()
    session.refresh_from_db()
    assert (submission.state, session.status) == ("received", "processing")
    assert VendorCall.objects.count() == 0
    assert DBTaskResult.objects.filter(  # tried again in a few seconds
        task_path="verification.services.recorded.send_submission", status="READY",
        run_after__gt=timezone.now(), run_after__lte=timezone.now() + STORAGE_RETRY_EVERY,
    ).count() == 1

    send_submission.call(submission.pk, 0)  # room again
    session.refresh_from_db()
    assert session.status == "passed"


def test_a_storage_away_for_minutes_gives_the_attempt_back_and_asks_again(sandbox, client, clip):
    session, submission = uploaded(client, clip)
    session.refresh_from_db()
    attempts = session.attempts_used

    with full_disk(), mock.patch("django.utils.timezone.now", return_value=timezone.now() + STORAGE_RETRY_FOR):
        send_submission.call(submission.pk, 0)

    submission.refresh_from_db()
    session.refresh_from_db()
    assert (submission.state, submission.refusal) == ("refused", "storage_unavailable")
    assert (session.status, session.reason, session.retry_allowed) == ("error", "storage_unavailable", True)
    assert session.attempts_used == attempts - 1  # nothing was billed
    status = client.get(f"/v/{session.link_token}/status").json()
    assert status["retry_allowed"] is True and status["message"] == "暂时无法保存您的录制内容，请稍后重试。"
    assert VendorCall.objects.count() == 0


def test_a_verdict_is_recorded_even_when_its_pictures_cannot_be_kept(sandbox, client, clip, caplog):
    session, submission = uploaded(client, clip)
    real_save = FileSystemStorage._save

    def no_room_for_images(self, name, content):
        if name.startswith("images/") or name.startswith("faces/"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(self, name, content)

    with mock.patch.object(FileSystemStorage, "_save", no_room_for_images):
        send_submission.call(submission.pk, 0)

    session.refresh_from_db()
    assert session.status == "passed"
    assert SessionImage.objects.count() == 0
    assert "vendor image not kept: media storage unavailable: OSError" in caplog.text
