"""The recorded-video and photo methods end to end: challenge, upload,
checks before any billed call, normalisation, the vendor over real HTTP
against the sandbox, and the outcome."""

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.conftest import run_due_tasks
from tests.support.media_samples import (
    damage_frames,
    make_animated_png,
    make_jpeg,
    make_png,
    make_png_declaring,
    make_video,
    make_video_with_long_audio,
    reencode,
    remux,
    with_extra_stream,
)
from tests.support.factories import challenge_shown_ago, new_session, report_for
from verification import media
from verification.models import SessionImage, Submission, VendorCall, VerificationSession
from verification.services.recorded import check_submission_answered, send_submission

pytestmark = pytest.mark.django_db(transaction=True)

IDCARD = "11010519491231002X"
DETECTION_ENDPOINTS = ("livedetectfour", "idcardlivedetectfour", "livedetectpicture", "face_vedio/verify",
                       "videoAuth/query", "idcardcompare")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uploads")
    return {
        "webm": make_video(folder / "recording.webm", container="webm", video_codec="libvpx-vp9", audio_codec="libopus"),
        # Another take of the scene: a second attempt is a new recording.
        "vp9_mp4": make_video(folder / "recording.mp4", video_codec="libvpx-vp9", audio_codec="libopus", start=3.7),
        "phone": make_video(folder / "phone.mp4"),
        "silent": make_video(folder / "silent.mp4", audio="silence"),
        "zero": make_video(folder / "zero.mp4", seconds=0.07),
        "hour_of_sound": make_video_with_long_audio(folder / "hour.mp4", seconds=3, audio_seconds=3600),
        "two_sounds": with_extra_stream(make_video(folder / "one.mp4", start=7), folder / "two.mkv", "audio"),
    }


@pytest.fixture
def vendors(sandbox, settings, tmp_path):
    """The sandbox, with uploads landing in a folder the test can check is
    left empty."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    os.makedirs(settings.FILE_UPLOAD_TEMP_DIR)
    return sandbox


def consented(browser, method, **kwargs):
    session = new_session(method=method, external_ref="r", **kwargs)
    browser.post(f"/v/{session.link_token}/consent")
    return session


def upload(client, session, path_or_bytes, *, field="video", capture="recorder", name=None):
    content = path_or_bytes.read_bytes() if isinstance(path_or_bytes, Path) else path_or_bytes
    name = name or (path_or_bytes.name if isinstance(path_or_bytes, Path) else "upload.bin")
    challenge_shown_ago(session)  # the person took their time: the clip fits since the challenge
    return client.post(
        f"/v/{session.link_token}/{field}",
        {field: SimpleUploadedFile(name, content, content_type="application/octet-stream"), "capture": capture,
         "capture_report": report_for(name)},
    )


def detection_calls():
    return VendorCall.objects.filter(endpoint__in=DETECTION_ENDPOINTS).count()


def stored_files(settings):
    root = Path(settings.MEDIA_ROOT)
    return sorted(p.relative_to(root).parts[0] for p in root.rglob("*") if p.is_file())


# --- each method's success -------------------------------------------------------


def test_tencent_lip_from_challenge_to_passed(vendors, client, clips):
    session = consented(client, "tencent_lip")

    challenge = client.post(f"/v/{session.link_token}/challenge").json()
    assert challenge["kind"] == "lip_code" and len(challenge["value"]) == 4 and challenge["value"].isdigit()
    assert client.post(f"/v/{session.link_token}/challenge").json() == challenge, "a reload gets the same code"
    assert client.get(f"/v/{session.link_token}/challenge").json() == challenge, "and may read it"
    assert VendorCall.objects.filter(endpoint="livegetfour").count() == 1
    response = upload(client, session, clips["webm"])
    assert response.status_code == 202
    assert response.json() == {"status_url": f"/v/{session.link_token}/status"}
    assert client.get(f"/v/{session.link_token}/status").json()["status"] == "processing"

    run_due_tasks()

    session.refresh_from_db()
    assert (session.status, session.passed, session.attempts_used) == ("passed", True, 1)
    submission = Submission.objects.get()
    assert submission.state == "answered" and submission.challenge_value == challenge["value"]
    assert submission.facts["video_codec"] == "vp9"
    assert submission.normalised.read()[4:8] == b"ftyp"
    assert not session.needs_review
    call = VendorCall.objects.get(endpoint="livedetectfour")
    assert call.request_summary["compare_flag"] == "false" and call.vendor_code == "0"


def test_tencent_lip_with_a_reference_photo_compares_faces(vendors, client, clips):
    session = consented(client, "tencent_lip", reference_photo=SimpleUploadedFile("ref.jpg", make_jpeg()))
    client.post(f"/v/{session.link_token}/challenge")
    upload(client, session, clips["vp9_mp4"])

    run_due_tasks()

    session.refresh_from_db()
    assert session.status == "passed" and session.scores["sim"] >= session.scores["sim_threshold"] == 80
    assert VendorCall.objects.get(endpoint="livedetectfour").request_summary["compare_flag"] == "true"
    assert session.face_image and SessionImage.objects.filter(kind="vendor_photo").exists()


def test_every_stored_file_is_for_the_portals_user_alone(vendors, client, clips, settings, monkeypatch):
    """Another account on the machine reads no face, video or upload: files
    0600, folders 0700, from the upload's temporary file to the vendor's photo."""
    upload_modes = []
    probe_video = media.probe_video

    def probe_noting_the_mode(path, **kwargs):  # the real probe, on the request's temporary upload file
        upload_modes.append(stat.S_IMODE(path.stat().st_mode))
        return probe_video(path, **kwargs)

    monkeypatch.setattr(media, "probe_video", probe_noting_the_mode)
    session = consented(client, "tencent_lip", reference_photo=SimpleUploadedFile("ref.jpg", make_jpeg()))
    client.post(f"/v/{session.link_token}/challenge")
    assert upload(client, session, clips["webm"]).status_code == 202
    run_due_tasks()

    session.refresh_from_db()
    assert session.status == "passed" and upload_modes == [0o600]
    root = Path(settings.MEDIA_ROOT)
    stored = list(root.rglob("*"))
    assert {p.relative_to(root).parts[0] for p in stored if p.is_file()} == {
        "reference", "originals", "normalised", "images", "faces",
    }
    modes = {str(p.relative_to(root)): oct(stat.S_IMODE(p.stat().st_mode)) for p in [root, *stored]}
    assert modes == {name: "0o700" if (root / name).is_dir() else "0o600" for name in modes}


def test_tencent_idcard_checks_the_identity_and_logs_none_of_it(vendors, client, clips, caplog):
    caplog.set_level("DEBUG")
    session = consented(client, "tencent_idcard", realname="张三", idcard=IDCARD)
    client.post(f"/v/{session.link_token}/challenge")
    upload(client, session, clips["phone"])

    run_due_tasks()

    session.refresh_from_db()
    assert session.status == "passed"
    assert caplog.records and not any(
        secret in caplog.text for secret in ("张三", IDCARD, IDCARD[6:14], session.link_token, "sandboxTencentSecretKey")
    )
    assert VendorCall.objects.get(endpoint="idcardlivedetectfour").request_summary["idcard_number"] == "**************002X"


@pytest.mark.parametrize("liveness_type, kind", [(0, "none"), (1, "digits"), (2, "actions")])
def test_juhe_video_in_each_mode(vendors, client, clips, liveness_type, kind):
    session = consented(client, "juhe_video", options={"liveness_type": liveness_type})

    challenge = client.post(f"/v/{session.link_token}/challenge").json()
    assert challenge["kind"] == kind
    if kind == "digits":
        assert len(challenge["value"]) == 4 and challenge["value"].isdigit()
    if kind == "actions":
        assert sorted(challenge["value"]) == ["close_eyes", "open_mouth"]
    assert upload(client, session, clips["webm"]).status_code == 202
    run_due_tasks()

    session.refresh_from_db()
    assert session.status == "passed" and session.vendor_order_no
    assert SessionImage.objects.filter(session=session, kind="best_frame").count() >= 1
    assert session.face_image


def test_juhe_video_auth_keeps_the_pictures_at_once(vendors, client, clips):
    session = consented(client, "juhe_video_auth", realname="张三", idcard=IDCARD, options={"rate_type": 1})
    assert client.post(f"/v/{session.link_token}/challenge").json() == {"kind": "none", "value": None, "expires_at": None}
    upload(client, session, clips["phone"])

    run_due_tasks()

    session.refresh_from_db()
    assert session.status == "passed" and session.scores["living_score"] >= session.scores["living_threshold"]
    pictures = SessionImage.objects.filter(session=session, kind="vendor_picture")
    assert pictures.exists() and all(p.image.read(3) == b"\xff\xd8\xff" for p in pictures)


def test_tencent_photo_with_identity(vendors, client):
    session = consented(client, "tencent_photo", realname="张三", idcard=IDCARD)
    client.post(f"/v/{session.link_token}/challenge")

    assert upload(client, session, make_jpeg(), field="photo", name="selfie.jpg").status_code == 202
    run_due_tasks()

    session.refresh_from_db()
    assert session.status == "passed"
    assert {"photo_score", "similarity"} <= set(session.scores)
    assert set(VendorCall.objects.values_list("endpoint", flat=True)) == {"livedetectpicture", "idcardcompare"}


def test_a_chosen_file_is_flagged_for_review(vendors, client, clips):
    session = consented(client, "juhe_video")
    client.post(f"/v/{session.link_token}/challenge")
    upload(client, session, clips["phone"], capture="file")
    session.refresh_from_db()
    assert session.needs_review and session.review_reasons == ["file_upload"]
    assert Submission.objects.get().capture == "file"


# --- upload abuse: 4xx, a message, no vendor call, nothing left behind -------------


@pytest.mark.parametrize(
    "content, name, status, code",
    [
        (b"", "empty.mp4", 400, "empty"),
        (b"%PDF-1.4 not a video at all" * 100, "renamed.mp4", 415, None),
        ("truncated", "cut.mp4", 415, None),
        ("zero", "zero.mp4", 400, "too_short"),
        ("silent", "silent.mp4", 400, "too_quiet"),
        ("hour_of_sound", "hour.mp4", 400, "too_long"),
        ("two_sounds", "two.mkv", 400, "extra_streams"),
    ],
)
# What the browser says of how the file was captured changes no check.
@pytest.mark.parametrize("capture", ["recorder", "file"])
def test_bad_uploads_are_refused_before_any_vendor_call(vendors, client, clips, settings, content, name, status, code,
                                                        capture):
    session = consented(client, "tencent_lip")
    client.post(f"/v/{session.link_token}/challenge")
    if content == "truncated":
        content = clips["phone"].read_bytes()[:5000]
    elif isinstance(content, str):
        content = clips[content].read_bytes()

    response = upload(client, session, content, name=name, capture=capture)

    assert response.status_code == status
    error = response.json()["error"]
    assert error["message"] and (code is None or error["code"] == code)
    assert detection_calls() == 0
    assert Submission.objects.count() == 0 and stored_files(settings) == []
    assert os.listdir(settings.FILE_UPLOAD_TEMP_DIR) == []
    session.refresh_from_db()
    assert session.status == "in_progress", "the person can simply record again"


@pytest.mark.parametrize(
    "content, status, code",
    [
        (make_png_declaring(7000, 7000, depth=16, colour=6), 400, "frame_too_large"),
        (make_animated_png(), 415, "animated"),
        (make_jpeg()[:400], 415, "unreadable"),
    ],
    ids=["png_of_392_mb", "animated_png", "cut_jpeg"],
)
def test_bad_photos_are_refused_before_any_vendor_call(vendors, client, settings, content, status, code):
    session = consented(client, "tencent_photo")
    client.post(f"/v/{session.link_token}/challenge")

    response = upload(client, session, content, field="photo", name="selfie.png")

    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert detection_calls() == 0 and Submission.objects.count() == 0 and stored_files(settings) == []
    assert os.listdir(settings.FILE_UPLOAD_TEMP_DIR) == []


def test_a_file_over_the_limit_is_refused_while_streaming(vendors, client, clips, settings):
    settings.KYC_UPLOAD_MAX_BYTES = 50_000
    session = consented(client, "tencent_lip")
    client.post(f"/v/{session.link_token}/challenge")

    response = upload(client, session, b"\x00" * 200_000, name="big.mp4")

    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
    assert detection_calls() == 0 and stored_files(settings) == []
    assert os.listdir(settings.FILE_UPLOAD_TEMP_DIR) == []


def test_two_files_are_refused(vendors, client, clips):
    session = consented(client, "tencent_lip")
    client.post(f"/v/{session.link_token}/challenge")
    response = client.post(
        f"/v/{session.link_token}/video",
        {"video": [SimpleUploadedFile("a.mp4", b"1"), SimpleUploadedFile("b.mp4", b"2")], "capture": "recorder"},
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "one_file"


def test_the_same_recording_twice_is_refused(vendors, client, clips):
    first = consented(client, "juhe_video")
    client.post(f"/v/{first.link_token}/challenge")
    upload(client, first, clips["phone"])
    second = consented(client, "juhe_video")
    client.post(f"/v/{second.link_token}/challenge")

    response = upload(client, second, clips["phone"])

    assert response.status_code == 409 and response.json()["error"]["code"] == "replayed"


def test_another_clients_identical_recording_is_accepted(vendors, client, clips, alice, charlie):
    """Replays are looked for within one API client: one client's uploads
    never decide another's outcome."""
    first = consented(client, "juhe_video", client=alice)
    client.post(f"/v/{first.link_token}/challenge")
    assert upload(client, first, clips["phone"]).status_code == 202
    second = consented(client, "juhe_video", client=charlie)
    client.post(f"/v/{second.link_token}/challenge")

    assert upload(client, second, clips["phone"]).status_code == 202
    run_due_tasks()

    assert sorted(VerificationSession.objects.values_list("status", flat=True)) == ["passed", "passed"]


@pytest.fixture(scope="module")
def copies(clips, tmp_path_factory):
    """The phone clip again in other bytes."""
    folder = tmp_path_factory.mktemp("copies")
    padded = folder / "padded.mp4"
    padded.write_bytes(clips["phone"].read_bytes() + b"\0")
    return {
        "padded": padded,
        "remuxed": remux(clips["phone"], folder / "remuxed.mkv", "mkv"),
        "reencoded": reencode(clips["phone"], folder / "reencoded.mp4", width=360, height=480, crf=36),
        "another_take": make_video(folder / "take.mp4", start=3.7),
    }


def upload_in_new_session(client, clip, *, api_client, method="juhe_video", field="video"):
    session = consented(client, method, client=api_client, locale="en")
    client.post(f"/v/{session.link_token}/challenge")
    response = upload(client, session, clip, field=field)
    run_due_tasks()
    session.refresh_from_db()
    return session, response


@pytest.mark.parametrize("copy", ["padded", "remuxed", "reencoded"])
def test_the_same_recording_in_other_bytes_is_refused_as_replayed(vendors, client, clips, copies, alice, copy):
    original, _ = upload_in_new_session(client, clips["phone"], api_client=alice)
    assert original.status == "passed"

    replayed, response = upload_in_new_session(client, copies[copy], api_client=alice)

    assert response.status_code == 202  # other bytes: found out once its frames are decoded
    assert (replayed.status, replayed.reason, replayed.attempts_used, replayed.retry_allowed) == (
        "failed", "replayed", 0, True)
    assert client.get(f"/v/{replayed.link_token}/status").json()["message"] == \
        "This recording was already sent. Please record a new one."
    refused = Submission.objects.get(session=replayed)
    assert (refused.state, refused.refusal, refused.fingerprint) == ("refused", "replayed", "")
    assert not refused.normalised and refused.original, "kept for the reviewer; nothing made for the vendor"
    assert VendorCall.objects.filter(endpoint="face_vedio/verify").count() == 1


def test_a_different_recording_and_another_clients_copy_are_accepted(vendors, client, copies, clips, alice, charlie):
    upload_in_new_session(client, clips["phone"], api_client=alice)

    take, _ = upload_in_new_session(client, copies["another_take"], api_client=alice)
    elsewhere, _ = upload_in_new_session(client, copies["reencoded"], api_client=charlie)

    assert (take.status, elsewhere.status) == ("passed", "passed")
    assert Submission.objects.filter(state="answered").exclude(fingerprint="").count() == 3


def test_a_sessions_next_attempt_is_not_compared_with_its_own_first(vendors, client, copies, clips, alice):
    """The same person trying again, in the same place: a near picture is
    no sign of a replay there."""
    session = consented(client, "juhe_video", client=alice)
    client.post(f"/v/{session.link_token}/challenge")
    steer(vendors, "juhe", endpoint="face_vedio/verify", error_code="280243")
    upload(client, session, clips["phone"])
    run_due_tasks()
    client.post(f"/v/{session.link_token}/challenge")

    assert upload(client, session, copies["reencoded"]).status_code == 202
    run_due_tasks()

    session.refresh_from_db()
    assert (session.status, session.attempts_used) == ("passed", 2)


def test_a_photo_sent_again_as_a_png_is_refused_at_once(vendors, client, alice):
    first, _ = upload_in_new_session(client, make_jpeg(), api_client=alice, method="tencent_photo", field="photo")
    assert first.status == "passed"

    second, response = upload_in_new_session(client, make_png(), api_client=alice, method="tencent_photo", field="photo")
    assert response.status_code == 409 and response.json()["error"]["code"] == "replayed"
    assert second.status == "in_progress" and not Submission.objects.filter(session=second).exists()

    third, response = upload_in_new_session(client, make_jpeg(moment=1.0), api_client=alice, method="tencent_photo",
                                            field="photo")
    assert response.status_code == 202 and third.status == "passed"


def test_an_erased_sessions_fingerprints_go_with_its_media(vendors, client, alice):
    from verification.models import FingerprintBand
    from verification.services.retention import session_erase

    session, _ = upload_in_new_session(client, make_jpeg(), api_client=alice, method="tencent_photo", field="photo")
    assert Submission.objects.get().fingerprint.startswith("photo:") and FingerprintBand.objects.count() == 4

    session_erase(session=session, actor=None)

    assert Submission.objects.get().fingerprint == "" and not FingerprintBand.objects.exists()
    _, response = upload_in_new_session(client, make_png(), api_client=alice, method="tencent_photo", field="photo")
    assert response.status_code == 202


def test_the_vendor_gets_the_photo_upright_and_without_its_exif(vendors, client):
    from tests.support.media_samples import make_jpeg as jpeg
    from verification import media

    session = consented(client, "tencent_photo")
    client.post(f"/v/{session.link_token}/challenge")
    upload(client, session, jpeg(480, 640, orientation=6), field="photo", name="sideways.jpg")
    run_due_tasks()

    submission = Submission.objects.get()
    sent = submission.normalised.read()
    header = media.image_header(sent)
    assert (header.kind, header.width, header.height) == ("jpeg", 480, 640) and b"Exif" not in sent
    assert submission.original.read().startswith(b"\xff\xd8\xff\xe1"), "the original is kept as it came"


# --- a file refused after it was accepted --------------------------------------------


def test_a_video_normalising_refuses_leaves_the_session_able_to_take_the_next(vendors, client, clips, tmp_path):
    session = consented(client, "tencent_lip", locale="en")
    client.post(f"/v/{session.link_token}/challenge")
    damaged = damage_frames(clips["vp9_mp4"], tmp_path / "damaged.mp4", from_frame=45)

    assert upload(client, session, damaged).status_code == 202  # the checks read its first frame and timings
    run_due_tasks()

    status = client.get(f"/v/{session.link_token}/status").json()
    assert (status["status"], status["message"], status["retry_allowed"]) == (
        "failed", "This video cannot be read. Please record it again.", True)
    session.refresh_from_db()
    assert session.attempts_used == 0, "the attempt is given back"
    refused = Submission.objects.get()
    assert (refused.state, refused.refusal, refused.attempt) == ("refused", "unreadable", 1)
    assert refused.original and not refused.normalised and detection_calls() == 0

    client.post(f"/v/{session.link_token}/challenge")
    assert upload(client, session, clips["webm"]).status_code == 202
    run_due_tasks()

    session.refresh_from_db()
    assert (session.status, session.attempts_used) == ("passed", 1)
    assert list(Submission.objects.order_by("pk").values_list("attempt", "state")) == [(1, "refused"), (1, "answered")]


def test_one_attempt_still_takes_one_submission_that_is_not_refused(vendors, client, clips):
    from django.db import IntegrityError, transaction

    session = consented(client, "juhe_video")
    client.post(f"/v/{session.link_token}/challenge")
    upload(client, session, clips["phone"])
    kept = Submission.objects.get()

    with pytest.raises(IntegrityError), transaction.atomic():
        Submission.objects.create(session=session, attempt=kept.attempt, kind="video", capture="recorder",
                                  content_sha256="b" * 64, original="x.mp4")
    Submission.objects.create(session=session, attempt=kept.attempt, kind="video", capture="recorder",
                              content_sha256="c" * 64, original="y.mp4", state="refused")


# --- steps out of order ------------------------------------------------------------


def test_no_challenge_before_consent(vendors, client):
    session = new_session(method="tencent_lip", external_ref="r")
    response = client.post(f"/v/{session.link_token}/challenge")
    assert response.status_code == 403 and response.json()["error"]["code"] == "no_consent"
    assert VendorCall.objects.count() == 0


def test_no_upload_before_the_challenge(vendors, client, clips):
    session = consented(client, "tencent_lip")
    response = upload(client, session, clips["phone"])
    assert response.status_code == 409 and response.json()["error"]["code"] == "no_challenge"


def test_a_photo_is_not_a_video(vendors, client):
    session = consented(client, "tencent_lip")
    client.post(f"/v/{session.link_token}/challenge")
    assert upload(client, session, make_jpeg(), field="photo").status_code == 400


def test_an_h5_session_has_no_challenge(vendors, client):
    session = consented(client, "h5")
    assert client.post(f"/v/{session.link_token}/challenge").status_code == 400


# --- sending once ------------------------------------------------------------------


def test_the_send_task_running_twice_sends_once(vendors, client, clips):
    session = consented(client, "juhe_video")
    client.post(f"/v/{session.link_token}/challenge")
    upload(client, session, clips["phone"])
    submission = Submission.objects.get()

    send_submission.call(submission.pk, 0)
    send_submission.call(submission.pk, 0)

    assert VendorCall.objects.filter(endpoint="face_vedio/verify").count() == 1


def test_a_submission_whose_worker_died_while_sending_is_given_up_and_offered_again(vendors, client, clips):
    session = consented(client, "juhe_video")
    client.post(f"/v/{session.link_token}/challenge")
    upload(client, session, clips["phone"])
    submission = Submission.objects.get()
    # The worker claimed it and died before the vendor's answer came back.
    Submission.objects.filter(pk=submission.pk).update(state="sending", sent_at=timezone.now() - timedelta(minutes=6))

    check_submission_answered.call(submission.pk)

    submission.refresh_from_db()
    session.refresh_from_db()
    assert submission.state == "unanswered"
    assert (session.status, session.reason, session.retry_allowed) == ("error", "vendor_timeout", True)
    assert detection_calls() == 0  # never resent


def test_sending_arms_a_watchdog_that_leaves_an_answered_submission_alone(vendors, client, clips):
    session = consented(client, "juhe_video")
    client.post(f"/v/{session.link_token}/challenge")
    upload(client, session, clips["phone"])
    submission = Submission.objects.get()

    send_submission.call(submission.pk, 0)

    (watchdog,) = DBTaskResult.objects.filter(task_path="verification.services.recorded.check_submission_answered",
                                              run_after__lte=timezone.now() + timedelta(seconds=30))
    assert watchdog.args_kwargs["args"] == [submission.pk]
    assert timedelta(seconds=20) < watchdog.run_after - timezone.now() <= timedelta(seconds=30)  # test_dead_sender.py
    check_submission_answered.call(submission.pk)
    session.refresh_from_db()
    assert session.status == "passed"


def test_a_vendor_that_cannot_be_reached_is_tried_again(vendors, client, clips, settings):
    session = consented(client, "juhe_video")
    client.post(f"/v/{session.link_token}/challenge")
    upload(client, session, clips["phone"])
    submission = Submission.objects.get()
    settings.JUHE_BASE_URL = "http://127.0.0.1:9"

    send_submission.call(submission.pk, 0)

    submission.refresh_from_db()
    assert submission.state == "received"
    from django_tasks_db.models import DBTaskResult

    retry = DBTaskResult.objects.filter(args_kwargs__args=[submission.pk, 1]).get()
    assert retry.run_after > timezone.now()
    settings.JUHE_BASE_URL = f"{vendors.url}/sandbox/juhe"
    send_submission.call(submission.pk, 1)
    session.refresh_from_db()
    assert session.status == "passed"


def test_a_timeout_after_sending_is_offered_as_a_retry_and_never_resent(client, clips, settings, tmp_path):
    from tests.support.http_double import HttpDouble, slow

    with HttpDouble() as juhe_double:
        juhe_double.respond = slow(2, lambda r: (200, {"Content-Type": "application/json"}, b'{"error_code": 0}'))
        settings.JUHE_BASE_URL = juhe_double.url
        settings.VENDOR_TIMEOUT_SECONDS = (1, 0.5)
        session = consented(client, "juhe_video")
        client.post(f"/v/{session.link_token}/challenge")
        upload(client, session, clips["phone"])

        run_due_tasks()
        run_due_tasks()

    session.refresh_from_db()
    assert (session.status, session.reason, session.retry_allowed) == ("error", "vendor_timeout", True)
    assert len(juhe_double.requests) == 1
    assert Submission.objects.get().state == "unanswered"
    assert VendorCall.objects.get().billed is None


# --- outcomes other than a pass (steered in the sandbox) ---------------------------


def steer(sandbox, vendor, **fields):
    import requests

    response = requests.post(f"{sandbox.url}/sandbox/{vendor}/steer", data=fields)
    assert response.status_code == 201, response.text


def test_misread_digits_fail_with_advice_and_a_new_attempt_gets_a_new_code(vendors, client, clips):
    session = consented(client, "tencent_lip", locale="en")
    first = client.post(f"/v/{session.link_token}/challenge").json()["value"]
    steer(vendors, "tencent", endpoint="livedetectfour", live_status="-5008")
    upload(client, session, clips["webm"])
    run_due_tasks()

    status = client.get(f"/v/{session.link_token}/status").json()
    assert status == {
        "status": "failed",
        "message": "The numbers you read did not match. Read the four numbers shown, slowly.",
        "retry_allowed": True,
        "opened_elsewhere": False,
        "vendor_up": True,
    }
    session.refresh_from_db()
    assert (session.reason, session.vendor_code, session.outcome_vendor) == ("not_live", "-5008", "tencent")

    second = client.post(f"/v/{session.link_token}/challenge").json()["value"]
    session.refresh_from_db()
    assert (session.status, session.attempts_used) == ("in_progress", 2)
    assert upload(client, session, clips["vp9_mp4"]).status_code == 202
    run_due_tasks()
    session.refresh_from_db()
    assert session.status == "passed"
    assert list(Submission.objects.order_by("attempt").values_list("challenge_value", flat=True)) == [first, second]


def test_a_name_that_does_not_match_the_id_cannot_be_retried(vendors, client, clips):
    session = consented(client, "tencent_idcard", realname="张不符", idcard=IDCARD)
    client.post(f"/v/{session.link_token}/challenge")
    upload(client, session, clips["phone"])
    run_due_tasks()

    session.refresh_from_db()
    assert (session.status, session.reason, session.vendor_code) == ("failed", "identity_mismatch", "-5803")
    assert not session.retry_allowed
    assert client.post(f"/v/{session.link_token}/challenge").status_code == 409


def test_a_face_unlike_the_id_photo_fails_on_the_threshold(vendors, client, clips):
    session = consented(client, "tencent_idcard", realname="李不像", idcard=IDCARD)
    client.post(f"/v/{session.link_token}/challenge")
    upload(client, session, clips["phone"])
    run_due_tasks()

    session.refresh_from_db()
    assert (session.status, session.reason, session.retry_allowed) == ("failed", "face_mismatch", True)
    assert session.scores["sim"] == 35 < session.scores["sim_threshold"]


def test_juhe_liveness_not_passed(vendors, client, clips):
    session = consented(client, "juhe_video")
    client.post(f"/v/{session.link_token}/challenge")
    steer(vendors, "juhe", endpoint="face_vedio/verify", error_code="280243")
    upload(client, session, clips["phone"])
    run_due_tasks()

    session.refresh_from_db()
    assert (session.status, session.vendor_code, session.retry_allowed) == ("failed", "280243", True)


def test_juhe_identity_that_does_not_match(vendors, client, clips):
    session = consented(client, "juhe_video_auth", realname="李不像", idcard=IDCARD)
    client.post(f"/v/{session.link_token}/challenge")
    upload(client, session, clips["phone"])
    run_due_tasks()

    session.refresh_from_db()
    assert (session.status, session.reason) == ("failed", "face_mismatch")
    assert session.scores["face_score"] == 0.21


def test_a_juhe_quota_error_is_a_retryable_error(vendors, client, clips):
    session = consented(client, "juhe_video")
    client.post(f"/v/{session.link_token}/challenge")
    steer(vendors, "juhe", endpoint="face_vedio/verify", error_code="10012")
    upload(client, session, clips["phone"])
    run_due_tasks()

    session.refresh_from_db()
    assert (session.status, session.reason, session.vendor_code, session.retry_allowed) == (
        "error", "vendor_rejected", "10012", True,
    )


def test_a_photo_that_does_not_look_live_fails(vendors, client):
    session = consented(client, "tencent_photo")
    client.post(f"/v/{session.link_token}/challenge")
    steer(vendors, "tencent", endpoint="livedetectpicture", score="40")
    upload(client, session, make_jpeg(), field="photo")
    run_due_tasks()

    session.refresh_from_db()
    assert (session.status, session.reason, session.scores["photo_score"]) == ("failed", "not_live", 40)


def test_no_new_challenge_while_a_recording_is_being_checked(vendors, client, clips):
    session = consented(client, "juhe_video")
    client.post(f"/v/{session.link_token}/challenge")
    upload(client, session, clips["phone"])

    response = client.post(f"/v/{session.link_token}/challenge")

    assert response.status_code == 409 and response.json()["error"]["code"] == "processing"
    session.refresh_from_db()
    assert session.attempts_used == 1


def test_pictures_that_cannot_be_downloaded_do_not_undo_the_verdict(vendors, client, clips, settings):
    settings.SANDBOX_JUHE_PICTURE_TTL = 0  # the vendor's picture links are already dead
    session = consented(client, "juhe_video_auth", realname="张三", idcard=IDCARD)
    client.post(f"/v/{session.link_token}/challenge")
    upload(client, session, clips["phone"])
    run_due_tasks()

    session.refresh_from_db()
    assert session.status == "passed"
    assert not SessionImage.objects.filter(session=session).exists()
    assert VendorCall.objects.filter(endpoint="picture").exclude(http_status=200).exists()
