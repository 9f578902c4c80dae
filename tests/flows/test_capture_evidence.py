"""The capture as evidence, through the upload step: what the page says about
the camera is kept with the submission and in the audit trail; a known
virtual camera, or an upload that does not look like the page's recorder,
marks the session for review without telling the person why; a report not
in its exact shape is a 400 and changes nothing. The vendors are the
sandbox, over real HTTP."""

import json
import re

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.conftest import run_due_tasks
from tests.support.factories import capture_report, challenge_shown_ago, new_session
from tests.support.media_samples import make_video
from verification.models import AuditEntry, Submission, VendorCall, VerificationSession

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def webm(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("clips") / "recording.webm", container="webm",
                      video_codec="libvpx-vp9", audio_codec="libopus")


@pytest.fixture
def session(sandbox, client):
    session = new_session(method="tencent_lip", external_ref="r", locale="en")
    client.post(f"/v/{session.link_token}/consent")
    client.post(f"/v/{session.link_token}/challenge")
    challenge_shown_ago(session)
    return session


def upload(client, session, clip, *, capture="recorder", **fields):
    return client.post(
        f"/v/{session.link_token}/video",
        {"video": SimpleUploadedFile("recording.webm", clip.read_bytes(), content_type="video/webm"),
         "capture": capture, **fields},
    )


def test_a_recording_through_a_virtual_camera_is_kept_flagged_and_the_person_is_not_told(client, session, webm,
                                                                                       settings):
    settings.KYC_VIRTUAL_CAMERA_LABELS = []
    report = capture_report(mime_type="video/webm;codecs=vp9,opus", camera="OBS Virtual Camera", hidden_count=1)

    response = upload(client, session, webm, capture_report=json.dumps(report))

    assert response.status_code == 202 and response.json() == {"status_url": f"/v/{session.link_token}/status"}
    session.refresh_from_db()
    assert session.needs_review and session.review_reasons == ["virtual_camera"]
    submission = Submission.objects.get()
    assert submission.capture_report["tracks"][1]["label"] == "OBS Virtual Camera"
    assert submission.capture_report["hidden_count"] == 1
    audit = AuditEntry.objects.get(action="capture", session_ref=session.pk)
    assert audit.actor_name == "system" and "'OBS Virtual Camera' 480x640@30.0 user" in audit.detail
    assert audit.detail.endswith("review: virtual_camera")

    run_due_tasks()  # nothing in the report passes or fails anyone: the vendor decides, a human looks
    session.refresh_from_db()
    assert session.status == "passed" and session.needs_review
    status = client.get(f"/v/{session.link_token}/status").json()
    page = client.get(f"/v/{session.link_token}/").content.decode()
    for said in (json.dumps(status), page):
        assert "virtual" not in said.lower() and "OBS" not in said and "review" not in said.lower()


def test_the_configured_labels_are_virtual_cameras_too(client, session, webm, settings):
    settings.KYC_VIRTUAL_CAMERA_LABELS = ["Acme Deepfake Cam"]
    upload(client, session, webm, capture_report=json.dumps(capture_report(camera="ACME deepfake cam 2")))
    session.refresh_from_db()
    assert session.review_reasons == ["virtual_camera"]


@pytest.mark.parametrize("fields, reasons", [
    ({}, ["not_in_page_recorder"]),  # a script posting a file: no report at all
    ({"capture_report": json.dumps(capture_report(mime_type="video/mp4"))}, ["not_in_page_recorder"]),
    ({"capture_report": json.dumps(capture_report(tracks=[]))}, ["not_in_page_recorder"]),
    ({"capture_report": json.dumps(capture_report(mime_type="video/webm"))}, []),
])
def test_an_upload_not_from_the_pages_recorder_is_flagged(client, session, webm, fields, reasons):
    assert upload(client, session, webm, **fields).status_code == 202
    session.refresh_from_db()
    assert session.review_reasons == reasons


def test_a_chosen_file_is_flagged_as_such_and_its_report_kept(client, session, webm):
    report = capture_report(mime_type="video/webm", tracks=[], devices=[])
    assert upload(client, session, webm, capture="file", capture_report=json.dumps(report)).status_code == 202
    session.refresh_from_db()
    assert session.review_reasons == ["file_upload"]
    assert Submission.objects.get().capture_report == report


@pytest.mark.parametrize("sent", [
    "{not json",
    json.dumps({**capture_report(), "injected": "<script>"}),
    json.dumps(capture_report(devices=[{"kind": "videoinput", "label": "x" * 5000}])),
    json.dumps(capture_report()) + " " * 9000,
])
def test_a_report_not_in_its_shape_is_a_400_and_changes_nothing(client, session, webm, sent):
    before = VerificationSession.objects.values().get(pk=session.pk)

    response = upload(client, session, webm, capture_report=sent)

    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_capture_report"
    assert "capture details" in response.json()["error"]["message"]
    assert VerificationSession.objects.values().get(pk=session.pk) == before
    assert not Submission.objects.exists() and not AuditEntry.objects.filter(action="capture").exists()
    assert not VendorCall.objects.exclude(endpoint="livegetfour").exists()


def test_the_reviewer_sees_the_capture_facts_beside_the_other_evidence(client, session, webm, settings):
    settings.KYC_VIRTUAL_CAMERA_LABELS = []
    report = capture_report(mime_type="video/webm;codecs=vp9,opus", camera="ManyCam Virtual Webcam", hidden_count=2,
                            hidden_ms=1500)
    report["devices"].append({"kind": "videoinput", "label": "<b>Integrated</b> Camera"})
    upload(client, session, webm, capture_report=json.dumps(report))
    rita = User.objects.create_user("rita", is_staff=True)
    rita.user_permissions.set(Permission.objects.filter(codename__in=["view_verificationsession", "review_session"]))
    client.force_login(rita)

    page = client.get(reverse("admin:verification_verificationsession_change", args=[session.pk]),
                      HTTP_ACCEPT_LANGUAGE="en").content.decode()

    facts = page[page.index('id="capture-facts"'):page.index('id="vendor-calls"')]
    assert 'data-reason="virtual_camera"' in facts
    assert "ManyCam Virtual Webcam <strong class=\"capture-virtual\">virtual camera</strong>" in facts
    assert "480×640 @ 30.0 fps · user" in facts and "video/webm;codecs=vp9,opus" in facts
    assert "hidden 2 times, 1500 ms in all" in facts
    assert "&lt;b&gt;Integrated&lt;/b&gt; Camera" in facts and "<b>Integrated" not in facts  # the browser's word, escaped
    assert re.search(r"· 2\d\.\d s after the challenge · clip (5\.99\d|6\.0+) s", facts), "the times, measured here"


def test_a_session_whose_upload_sent_no_report_says_so_to_the_reviewer(client, session, webm):
    upload(client, session, webm)
    client.force_login(User.objects.create_superuser("sam"))
    page = client.get(reverse("admin:verification_verificationsession_change", args=[session.pk])).content.decode()
    assert 'data-reason="not_in_page_recorder"' in page
    assert "页面未随此次上传发送拍摄信息。" in page, "in the reviewer's language"
