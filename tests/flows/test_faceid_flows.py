"""FaceID's two methods end to end against the sandbox over real HTTP
(the official SDK signing each call): faceid_h5 from DetectAuth to the
verdict fetched server to server, whether the person comes back or not;
faceid_lip from GetLiveCode to LivenessRecognition or LivenessCompare."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from django.urls import reverse

from sandbox.models import FaceIdCheck
from tests.conftest import run_due_tasks
from tests.support.factories import challenge_shown_ago, new_session
from tests.support.media_samples import make_jpeg, make_video
from verification.models import SessionImage, Submission, VendorCall

pytestmark = pytest.mark.django_db(transaction=True)

ID, NAME = "11010519491231002X", "张三"


# --- faceid_h5 ----------------------------------------------------------------------


def started(client, **identity):
    session = new_session(method="faceid_h5", external_ref="r", **identity)
    client.post(f"/v/{session.link_token}/consent")
    page = client.post(f"/v/{session.link_token}/h5/start")["Location"]
    session.refresh_from_db()
    return session, page


def press(page, outcome):
    """The tester's button on the sandbox's H5 page; where the browser goes next."""
    token = parse_qs(urlsplit(page).query)["token"][0]
    base = page.split("/sandbox/faceid/h5")[0]
    answer = requests.post(f"{base}/sandbox/faceid/h5/finish", data={"token": token, "outcome": outcome},
                           allow_redirects=False)
    return answer.headers["Location"]


def test_h5_passes_with_the_frame_and_the_video_fetched_once(sandbox, client):
    session, page = started(client, realname=NAME, idcard=ID)
    assert page.startswith(f"{sandbox.url}/sandbox/faceid/h5?token=") and session.vendor_token in page
    detect = VendorCall.objects.get(endpoint="DetectAuth")
    assert detect.request_summary["idcard"] != ID and detect.vendor == "faceid"

    back = press(page, "pass")
    path = urlsplit(back).path + "?" + urlsplit(back).query
    assert path.startswith(f"/v/{session.link_token}/h5/return?token=")
    client.get(path)
    client.get(path)  # a reload asks nobody

    session.refresh_from_db()
    assert (session.status, session.passed, session.outcome_vendor, session.vendor_code) == (
        "passed", True, "faceid", "0")
    assert VendorCall.objects.filter(endpoint="GetDetectInfoEnhanced").count() == 1
    assert session.face_image and SessionImage.objects.get().kind == "best_frame"
    video = Submission.objects.get()
    assert (video.capture, video.kind, video.state) == ("vendor", "video", "answered")
    assert video.original.read()[4:8] == b"ftyp"


@pytest.mark.parametrize("outcome, reason, code", [
    ("not_live", "not_live", "1002"),
    ("face_mismatch", "face_mismatch", "2016"),
    ("identity_mismatch", "identity_mismatch", "2006"),
    ("lip_misread", "lip_code_mismatch", "1101"),
])
def test_h5_failures_carry_the_portals_reason_and_message(sandbox, client, outcome, reason, code):
    session, page = started(client, realname=NAME, idcard=ID)
    client.get(urlsplit(press(page, outcome)).path)
    session.refresh_from_db()
    assert (session.status, session.reason, session.vendor_code) == ("failed", reason, code)
    message = client.get(f"/v/{session.link_token}/status").json()["message"]
    assert message and not message.isascii()  # the session's language, zh-hans


def test_h5_person_who_never_comes_back_is_reconciled_before_the_token_dies(sandbox, client):
    session, page = started(client)
    press(page, "pass")  # …and the browser is closed: no return

    DBTaskResult.objects.update(run_after=timezone.now())  # the reconciliation falls due
    run_due_tasks()

    session.refresh_from_db()
    assert (session.status, session.passed) == ("passed", True)
    assert VendorCall.objects.filter(endpoint="GetDetectInfoEnhanced").count() == 1


def test_h5_cancel_and_return_waits_and_the_token_expiry_ends_it(sandbox, client):
    session, page = started(client)
    client.get(urlsplit(press(page, "cancel")).path)
    session.refresh_from_db()
    assert session.status == "processing" and session.reason == "awaiting_result"
    # Going back reuses the same check: no second DetectAuth.
    assert client.post(f"/v/{session.link_token}/h5/start")["Location"] == page
    assert VendorCall.objects.filter(endpoint="DetectAuth").count() == 1

    # Nobody finishes; the BizToken dies, and the last poll ends the attempt.
    type(session).objects.filter(pk=session.pk).update(vendor_token_expires_at=timezone.now() - timedelta(minutes=5))
    DBTaskResult.objects.update(run_after=timezone.now())
    run_due_tasks()
    session.refresh_from_db()
    assert (session.status, session.reason, session.vendor_code) == ("expired", "token_expired", "15")


def test_the_return_address_trusts_only_the_stored_token(sandbox, client):
    session, page = started(client)
    other, other_page = started(client)
    press(other_page, "pass")
    # The person comes back carrying someone else's (passed) token.
    client.get(f"/v/{session.link_token}/h5/return?token={other.vendor_token}")
    session.refresh_from_db()
    assert session.status == "processing" and not session.passed
    call = VendorCall.objects.filter(endpoint="GetDetectInfoEnhanced").get()
    assert call.request_summary["BizToken"] == session.vendor_token[:6] + "…"


def test_h5_refused_rule_ends_the_attempt_without_spending_it(sandbox, client, settings):
    settings.FACEID_RULE_ID = "404"
    session, page = started(client)
    session.refresh_from_db()
    assert (session.status, session.reason, session.attempts_used) == ("error", "vendor_rejected", 0)
    assert session.vendor_code == "InvalidParameterValue.RuleIdNotExist"


# --- faceid_lip ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("faceid") / "recording.webm", container="webm",
                      video_codec="libvpx-vp9", audio_codec="libopus")


def recorded(client, clip, **fields):
    session = new_session(method="faceid_lip", external_ref="r", **fields)
    client.post(f"/v/{session.link_token}/consent")
    challenge = client.post(f"/v/{session.link_token}/challenge").json()
    challenge_shown_ago(session)  # the person took their time: the clip fits since the challenge
    answer = client.post(f"/v/{session.link_token}/video", {
        "video": SimpleUploadedFile("recording.webm", clip.read_bytes(), content_type="video/webm"),
        "capture": "recorder"})
    assert answer.status_code == 202, answer.content
    run_due_tasks()
    session.refresh_from_db()
    return session, challenge


def test_lip_with_an_identity_goes_to_liveness_recognition(sandbox, client, clip):
    session, challenge = recorded(client, clip, realname=NAME, idcard=ID)
    assert challenge["kind"] == "lip_code" and len(challenge["value"]) == 4
    assert (session.status, session.passed, session.vendor_code) == ("passed", True, "Success")
    call = VendorCall.objects.get(endpoint="LivenessRecognition")
    assert call.billed is True and call.request_summary["ValidateData"] == challenge["value"]
    assert session.scores["sim"] >= session.scores["sim_threshold"] == 70
    assert session.face_image


def test_lip_with_a_reference_photo_goes_to_liveness_compare(sandbox, client, clip):
    session, _ = recorded(client, clip, reference_photo=SimpleUploadedFile("ref.jpg", make_jpeg()))
    assert session.status == "passed"
    assert VendorCall.objects.filter(endpoint="LivenessCompare").count() == 1
    assert not VendorCall.objects.filter(endpoint="LivenessRecognition").exists()


@pytest.mark.parametrize("name, reason, code", [
    ("张不符", "identity_mismatch", "FailedOperation.IdNameMisMatch"),
    ("李不像", "face_mismatch", "FailedOperation.CompareLowSimilarity"),
])
def test_lip_identity_verdicts(sandbox, client, clip, name, reason, code):
    session, _ = recorded(client, clip, realname=name, idcard=ID)
    assert (session.status, session.reason, session.vendor_code) == ("failed", reason, code)


def test_a_misread_code_is_a_lip_code_mismatch_with_a_bilingual_message(sandbox, client, clip,
                                                                       django_user_model):
    requests.post(f"{sandbox.url}/sandbox/faceid/steer",
                  data={"endpoint": "LivenessRecognition", "Result": "FailedOperation.LipVoiceRecognize"})
    session, _ = recorded(client, clip, realname=NAME, idcard=ID)
    assert (session.status, session.reason, session.retryable) == ("failed", "lip_code_mismatch", True)
    chinese = client.get(f"/v/{session.link_token}/status").json()["message"]
    type(session).objects.filter(pk=session.pk).update(locale="en")
    english = client.get(f"/v/{session.link_token}/status").json()["message"]
    assert "numbers" in english and "数字" in chinese
    # The vendor's own words stay for reviewers, on the call's record and its case page.
    call = VendorCall.objects.get(endpoint="LivenessRecognition")
    assert call.response_summary["Response"]["Description"] == "声音识别失败"
    # (Transactional tests flush the reviewers' group: a superuser reads the case page.)
    client.force_login(django_user_model.objects.create_superuser("root", password="pw-root-123"))
    page = client.get(reverse("admin:verification_verificationsession_change", args=[session.pk]))
    assert '<q class="vendor-said" lang="zh-Hans">声音识别失败</q>' in page.text
    assert "声音识别失败（数字未识别）" in page.text  # the code table's meaning beside it


def test_faceid_down_is_left_alone_and_a_failed_challenge_spends_no_attempt(sandbox, client, settings):
    settings.VENDOR_BREAKER_FAILURES = 2
    requests.post(f"{sandbox.url}/sandbox/trouble", data={"error_rate": 1, "seconds": 60})
    session = new_session(method="faceid_lip", external_ref="r", realname=NAME, idcard=ID)
    client.post(f"/v/{session.link_token}/consent")

    answers = [client.post(f"/v/{session.link_token}/challenge").status_code for _ in range(3)]

    assert answers == [503, 503, 503]
    calls = list(VendorCall.objects.filter(endpoint="GetLiveCode").order_by("created_at"))
    assert [call.http_status for call in calls] == [503, 503, None]  # the third never left
    assert calls[2].error.startswith("CircuitOpen")
    session.refresh_from_db()
    assert session.attempts_used == 0


def test_a_success_under_the_threshold_is_a_face_mismatch_told_as_such(sandbox, client, clip):
    requests.post(f"{sandbox.url}/sandbox/faceid/steer",
                  data={"endpoint": "LivenessRecognition", "Result": "Success", "Sim": "55"})
    session, _ = recorded(client, clip, realname=NAME, idcard=ID, locale="en")
    assert (session.status, session.reason, session.vendor_code) == ("failed", "face_mismatch", "Success")
    assert session.scores["sim"] == 55.0
    assert "matched" in client.get(f"/v/{session.link_token}/status").json()["message"]


def test_an_identity_other_than_the_one_sent_is_an_identity_mismatch_told_as_such(sandbox, client):
    session, page = started(client, realname=NAME, idcard=ID)
    # Tencent's page verified someone else (its RuleId let the person type an identity).
    FaceIdCheck.objects.filter(biz_token=session.vendor_token).update(id_card="110105199001010010")
    client.get(urlsplit(press(page, "pass")).path)
    session.refresh_from_db()
    assert (session.status, session.reason, session.vendor_code, session.retryable) == (
        "failed", "identity_mismatch", "0", False)
    type(session).objects.filter(pk=session.pk).update(locale="en")
    assert "do not match" in client.get(f"/v/{session.link_token}/status").json()["message"]
