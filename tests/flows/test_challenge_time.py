"""Time as evidence on the recorded path: a challenge lives
KYC_CHALLENGE_TTL_SECONDS from its issue and answers one upload; a clip
cannot be longer than the time since its challenge was issued; one that
starts long after it is noted for review. Time moves by patching
django.utils.timezone.now (the portal's only clock here); nobody sleeps.
The vendors are the sandbox, over real HTTP."""

from contextlib import contextmanager
from datetime import timedelta
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from tests.conftest import run_due_tasks
from tests.support.factories import new_session, report_for
from tests.support.media_samples import make_video
from verification.domain.outcome import FAILED, Outcome
from verification.models import Submission, VendorCall, VerificationSession

pytestmark = pytest.mark.django_db(transaction=True)

BILLED_CHECKS = ("livedetectfour", "idcardlivedetectfour", "face_vedio/verify", "videoAuth/query")


@contextmanager
def clock_at(moment):
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("clips") / "six.mp4", seconds=6.0)


def consented(client, method, **fields):
    session = new_session(method=method, external_ref="r", locale="en", **fields)
    client.post(f"/v/{session.link_token}/consent")
    return session


def challenge(client, session, verb="post"):
    return getattr(client, verb)(f"/v/{session.link_token}/challenge")


def upload(client, session, clip):
    return client.post(
        f"/v/{session.link_token}/video",
        {"video": SimpleUploadedFile("recording.mp4", clip.read_bytes(), content_type="video/mp4"),
         "capture": "recorder", "capture_report": report_for(clip)},
    )


def calls(endpoint) -> int:
    return VendorCall.objects.filter(endpoint=endpoint).count()


def billed_checks() -> int:
    return VendorCall.objects.filter(endpoint__in=BILLED_CHECKS).count()


# --- expiry ---------------------------------------------------------------------------


def test_an_upload_answering_an_expired_lip_code_is_refused_before_any_billed_call(sandbox, client, clip, settings):
    settings.KYC_CHALLENGE_TTL_SECONDS = 120
    session = consented(client, "tencent_lip")
    issued = timezone.now()
    with clock_at(issued):
        first = challenge(client, session).json()["value"]

    with clock_at(issued + timedelta(seconds=121)):
        refused = upload(client, session, clip)

        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "challenge_expired"
        assert "A new one is ready" in refused.json()["error"]["message"]
        assert billed_checks() == 0 and not Submission.objects.exists()
        session.refresh_from_db()
        assert (session.status, session.attempts_used, session.challenge_value) == ("in_progress", 1, "")
        # It is gone: reading finds none; asking for one gets a new code, from a new livegetfour.
        assert challenge(client, session, "get").json()["error"]["code"] == "no_challenge"
        fresh = challenge(client, session).json()

    assert fresh["kind"] == "lip_code" and fresh["value"] != first
    assert calls("livegetfour") == 2
    session.refresh_from_db()
    assert session.attempts_used == 1, "the same attempt: nothing was billed"
    with clock_at(issued + timedelta(seconds=121 + 20)):
        assert upload(client, session, clip).status_code == 202
    assert Submission.objects.get().challenge_value == fresh["value"]
    run_due_tasks()
    session.refresh_from_db()
    assert session.status == "passed" and calls("livedetectfour") == 1


def test_a_reload_after_expiry_gets_a_new_challenge_and_reading_it_says_so(sandbox, client, settings):
    settings.KYC_CHALLENGE_TTL_SECONDS = 120
    session = consented(client, "tencent_lip")
    issued = timezone.now()
    with clock_at(issued):
        first = challenge(client, session).json()
    assert first["expires_at"] == (issued + timedelta(seconds=120)).isoformat(), "a page may count down"
    with clock_at(issued + timedelta(seconds=119)):
        assert challenge(client, session).json() == first, "within its life a reload shows the same"
        assert challenge(Client(), session).json() == first, "and so does a second window"
    with clock_at(issued + timedelta(seconds=120)):
        expired = challenge(client, session, "get")
        assert expired.status_code == 409 and expired.json()["error"]["code"] == "challenge_expired"
        assert challenge(client, session).json()["value"] != first["value"]
    assert calls("livegetfour") == 2


def test_expired_digits_come_back_as_other_digits(sandbox, client, clip, settings):
    settings.KYC_CHALLENGE_TTL_SECONDS = 30
    session = consented(client, "juhe_video", options={"liveness_type": 1})
    issued = timezone.now()
    with clock_at(issued):
        first = challenge(client, session).json()
    with clock_at(issued + timedelta(seconds=31)):
        assert upload(client, session, clip).json()["error"]["code"] == "challenge_expired"
        second = challenge(client, session).json()
    assert first["kind"] == second["kind"] == "digits" and first["value"] != second["value"]
    assert billed_checks() == 0


def test_the_expiry_message_is_in_the_persons_language(sandbox, client, clip, settings):
    settings.KYC_CHALLENGE_TTL_SECONDS = 120
    session = consented(client, "tencent_lip")
    VerificationSession.objects.filter(pk=session.pk).update(locale="zh-hans")
    issued = timezone.now()
    with clock_at(issued):
        challenge(client, session)
    with clock_at(issued + timedelta(minutes=5)):
        message = upload(client, session, clip).json()["error"]["message"]
    assert "已过期" in message and "重新录制" in message


def test_a_method_that_asks_for_nothing_has_nothing_to_expire(sandbox, client, clip, settings):
    settings.KYC_CHALLENGE_TTL_SECONDS = 30
    settings.KYC_CHALLENGE_LATE_START_SECONDS = 3600
    session = consented(client, "juhe_video", options={"liveness_type": 0})
    issued = timezone.now()
    with clock_at(issued):
        assert challenge(client, session).json() == {"kind": "none", "value": None, "expires_at": None}
    with clock_at(issued + timedelta(minutes=10)):
        assert upload(client, session, clip).status_code == 202


# --- single use -----------------------------------------------------------------------


def test_a_challenge_answers_one_upload(sandbox, client, clip):
    session = consented(client, "tencent_lip")
    issued = timezone.now()
    with clock_at(issued):
        first = challenge(client, session).json()
    with clock_at(issued + timedelta(seconds=20)):
        assert upload(client, session, clip).status_code == 202
        again = upload(client, session, clip)
        assert again.status_code == 409 and Submission.objects.count() == 1
        # While it is checked, no window is shown the used challenge.
        assert challenge(client, session).json()["error"]["code"] == "processing"
        assert challenge(Client(), session, "get").json()["error"]["code"] == "processing"

    # The attempt fails and another is allowed: only a new challenge, from a new call.
    session.refresh_from_db()
    session.record_outcome(Outcome(FAILED, "not_live", retryable=True))
    with clock_at(issued + timedelta(seconds=40)):
        fresh = challenge(client, session).json()
    assert fresh["value"] != first["value"] and calls("livegetfour") == 2
    session.refresh_from_db()
    assert session.attempts_used == 2 and session.challenge_value == fresh["value"]


# --- the clip in time -----------------------------------------------------------------


def test_a_clip_longer_than_the_time_since_its_challenge_is_refused_and_noted(sandbox, client, clip):
    session = consented(client, "tencent_lip")
    issued = timezone.now()
    with clock_at(issued):
        challenge(client, session)
    with clock_at(issued + timedelta(seconds=3)):  # a six-second clip, three seconds after the code appeared
        refused = upload(client, session, clip)

    assert refused.status_code == 400 and refused.json()["error"]["code"] == "longer_than_challenge"
    assert billed_checks() == 0 and not Submission.objects.exists()
    session.refresh_from_db()
    assert session.status == "in_progress" and session.review_reasons == ["implausible_duration"]
    with clock_at(issued + timedelta(seconds=10)):  # recorded after the code appeared: taken
        assert upload(client, session, clip).status_code == 202


@pytest.mark.parametrize("seconds_after, reasons", [(20, []), (100, ["late_start"])])
def test_a_clip_that_starts_long_after_its_challenge_is_noted_for_review(sandbox, client, clip, settings,
                                                                          seconds_after, reasons):
    settings.KYC_CHALLENGE_TTL_SECONDS = 120
    settings.KYC_CHALLENGE_LATE_START_SECONDS = 60
    session = consented(client, "tencent_lip")
    issued = timezone.now()
    with clock_at(issued):
        challenge(client, session)
    with clock_at(issued + timedelta(seconds=seconds_after)):
        assert upload(client, session, clip).status_code == 202
    session.refresh_from_db()
    assert session.review_reasons == reasons and session.needs_review == bool(reasons)
