"""The page's account of a capture (services.capture): taken only in exactly
its shape, within its size; virtual cameras and uploads that do not look
like the page's recorder are named for review. No database."""

import json

import pytest

from tests.support.factories import capture_report
from verification.domain.errors import WrongStep
from verification.services import capture


def text(report) -> str:
    return json.dumps(report)


def test_a_report_from_the_page_is_kept_as_sent():
    report = capture_report()
    assert capture.parse_report(text(report)) == {**report, "tracks": [
        {**track, "frame_rate": None if track["frame_rate"] is None else float(track["frame_rate"])}
        for track in report["tracks"]]}


def test_the_largest_report_of_plain_labels_fits_the_cap():
    largest = capture_report(devices=[{"kind": "videoinput", "label": "c" * 200}] * 16, mime_type="x" * 100,
                             tracks=[video_track(label="d" * 200)] * 4, hidden_ms=86_400_000)
    assert capture.parse_report(text(largest))["devices"][15]["label"] == "c" * 200


@pytest.mark.parametrize("sent", [None, ""])
def test_no_report_is_none(sent):
    assert capture.parse_report(sent) is None


def video_track(**changes):
    return {"kind": "video", "label": "cam", "width": 640, "height": 480, "frame_rate": 30, "facing_mode": "user",
            **changes}


@pytest.mark.parametrize("sent, problem", [
    ("{", "not JSON"),
    ("[]", "report is not an object"),
    ('"OBS"', "report is not an object"),
    (text({**capture_report(), "extra": 1}), "must have exactly"),
    (text({k: v for k, v in capture_report().items() if k != "tracks"}), "must have exactly"),
    (text(capture_report(mime_type=5)), "mime_type"),
    (text(capture_report(mime_type="video/webm" + "x" * 100)), "mime_type"),
    (text(capture_report(devices={"kind": "videoinput"})), "devices is not a list"),
    (text(capture_report(devices=[{"kind": "videoinput", "label": "c"}] * 17)), "more than 16 devices"),
    (text(capture_report(devices=[{"kind": "audiooutput", "label": "speaker"}])), "kind"),
    (text(capture_report(devices=[{"kind": "videoinput", "label": "x" * 201}])), "label"),
    (text(capture_report(devices=[{"kind": "videoinput", "label": "cam\nOBS"}])), "label"),
    (text(capture_report(devices=[{"kind": "videoinput", "label": "c", "deviceId": "abc"}])), "must have exactly"),
    (text(capture_report(tracks=[video_track()] * 5)), "more than 4 tracks"),
    (text(capture_report(tracks=[video_track(width=-1)])), "width"),
    (text(capture_report(tracks=[video_track(width=640.5)])), "width"),
    (text(capture_report(tracks=[video_track(height=True)])), "height"),
    (text(capture_report(tracks=[video_track(frame_rate="30")])), "frame rate"),
    (text(capture_report(tracks=[video_track(frame_rate=1e9)])), "frame rate"),
    ('{"mime_type": "", "devices": [], "hidden_count": 0, "hidden_ms": 0, "tracks": ['
     '{"kind": "video", "label": "c", "width": 1, "height": 1, "frame_rate": NaN, "facing_mode": ""}]}', "not JSON"),
    (text(capture_report(tracks=[video_track(facing_mode="sideways")])), "facing mode"),
    (text(capture_report(hidden_count=-1)), "hidden_count"),
    (text(capture_report(hidden_count=False)), "hidden_count"),
    (text(capture_report(hidden_ms=10**12)), "hidden_ms"),
    (text(capture_report()) + " " * 8192, "more than 8192 bytes"),
    (text(capture_report(devices=[{"kind": "videoinput", "label": "摄" * 200}] * 16)), "more than 8192 bytes"),
])
def test_anything_else_is_refused_whole_with_what_is_wrong(sent, problem):
    with pytest.raises(WrongStep) as refused:
        capture.parse_report(sent)
    assert refused.value.code == "bad_capture_report" and problem in str(refused.value.message)


@pytest.mark.parametrize("label, virtual", [
    ("OBS Virtual Camera", True),
    ("obs virtual camera (m-de:vice)", True),
    ("ManyCam Virtual Webcam", True),
    ("Snap Camera", True),
    ("XSplit VCam", True),
    ("DroidCam Source 3", True),
    ("Dummy video device (0x0000)", True),  # v4l2loopback
    ("v4l2loopback-000", True),
    ("Integrated Camera (04f2:b6dd)", False),
    ("FaceTime HD Camera", False),
    ("fake_device_0", False),
])
def test_known_virtual_cameras_are_named_for_review(settings, label, virtual):
    settings.KYC_VIRTUAL_CAMERA_LABELS = []
    report = capture.parse_report(text(capture_report(camera=label)))
    reasons = capture.review_reasons(report, from_recorder=True, stored_as="webm")
    assert reasons == (("virtual_camera",) if virtual else ())


def test_the_configured_list_adds_cameras(settings):
    settings.KYC_VIRTUAL_CAMERA_LABELS = ["Fake_Device"]
    report = capture.parse_report(text(capture_report(camera="fake_device_0")))
    assert capture.review_reasons(report, from_recorder=True, stored_as="webm") == ("virtual_camera",)


def test_a_virtual_camera_merely_present_is_evidence_not_a_reason(settings):
    settings.KYC_VIRTUAL_CAMERA_LABELS = []
    report = capture_report()
    report["devices"].append({"kind": "videoinput", "label": "OBS Virtual Camera"})
    assert capture.review_reasons(capture.parse_report(text(report)), from_recorder=True, stored_as="webm") == ()


@pytest.mark.parametrize("report, stored_as, in_page", [
    (capture_report(mime_type="video/webm;codecs=vp9,opus"), "webm", True),
    (capture_report(mime_type="video/x-matroska;codecs=avc1"), "matroska", True),
    (capture_report(mime_type="video/mp4;codecs=avc1.42E01E,mp4a.40.2"), "mp4", True),
    (capture_report(mime_type="image/jpeg"), "jpeg", True),
    (None, "webm", False),  # no report: not the page
    (capture_report(mime_type="video/webm"), "mp4", False),  # the recorder said WebM; an MP4 came
    (capture_report(mime_type="video/quicktime"), "mov", False),  # no recorder of ours makes it
    (capture_report(mime_type="video/webm", tracks=[]), "webm", False),  # recorded from no track
])
def test_an_upload_said_to_be_recorded_must_look_like_the_pages_recorder(report, stored_as, in_page):
    parsed = capture.parse_report(text(report)) if report else None
    expected = () if in_page else ("not_in_page_recorder",)
    assert capture.review_reasons(parsed, from_recorder=True, stored_as=stored_as) == expected
    # A file the person chose is named so elsewhere (file_upload).
    assert capture.review_reasons(parsed, from_recorder=False, stored_as=stored_as) == ()


def test_the_audit_line_is_short_and_says_what_matters():
    report = capture.parse_report(text(capture_report(camera="OBS Virtual Camera" + "x" * 150, hidden_count=2)))
    line = capture.summary(report, ("virtual_camera",))
    assert len(line) <= 255 and "OBS Virtual Camera" in line and "480x640@30.0 user" in line
    assert "hidden 2x" in line and line.endswith("review: virtual_camera")
    assert capture.summary(None, ("not_in_page_recorder",)) == "no capture report; review: not_in_page_recorder"
