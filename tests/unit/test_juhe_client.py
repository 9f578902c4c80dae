"""The Juhe clients: the exact form bodies (an independent reading of
documents 000 and 001), both answer layouts, the code table, and the
streaming base64 that never holds the video several times in memory."""

import base64
import json
import tracemalloc
from urllib.parse import parse_qs

import pytest

from tests.support.media_samples import make_jpeg
from verification.vendors import juhe
from verification.vendors.base import VendorRejected, VendorResponseError

JPEG = make_jpeg(120, 160)
FRAME = base64.b64encode(JPEG).decode()


def client_for(url, recorder=None):
    return juhe.JuheClient(base_url=url, video_key="face-key", video_auth_key="auth-key", timeout=(1, 5),
                           recorder=recorder)


def reply(body):
    return lambda request: (200, {"Content-Type": "application/json"}, json.dumps(body).encode())


def form(request) -> dict:
    return {k: v[0] for k, v in parse_qs(request.body.decode(), strict_parsing=True, keep_blank_values=True).items()}


@pytest.fixture
def double():
    from tests.support.http_double import HttpDouble

    with HttpDouble() as server:
        yield server


@pytest.fixture
def video(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(bytes(range(256)) * 41 + b"\xfb\xff")  # every byte value, and '+' '/' '=' in base64
    return path


def test_face_vedio_verify_sends_the_documented_form(double, video):
    double.respond = reply({"reason": "成功", "error_code": 0, "result": {"orderid": "JH1", "res": {"bestList": [FRAME, FRAME]}}})

    verdict = client_for(double.url).verify_video(video=video, liveness_type=1, validate_data="4821", best_frames=2)

    (request,) = double.requests
    assert (request.method, request.path) == ("POST", "/face_vedio/verify")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert int(request.headers["Content-Length"]) == len(request.body), "streamed with a length, not chunked"
    sent = form(request)
    assert set(sent) == {"key", "livenessType", "validateData", "bestFrameNum", "videoBase64"}
    assert (sent["key"], sent["livenessType"], sent["validateData"], sent["bestFrameNum"]) == ("face-key", "1", "4821", "2")
    assert base64.b64decode(sent["videoBase64"], validate=True) == video.read_bytes()
    assert verdict.passed and verdict.order_id == "JH1" and verdict.best_frames == [JPEG, JPEG]


def test_silent_mode_sends_no_validate_data(double, video):
    double.respond = reply({"error_code": 0, "result": {"orderid": "JH2"}})
    client_for(double.url).verify_video(video=video, liveness_type=0)
    assert set(form(double.requests[0])) == {"key", "livenessType", "videoBase64"}


def test_best_frames_are_read_from_the_sample_layout_too(double, video):
    double.respond = reply({"error_code": 0, "result": {"orderid": "JH3", "bestBase64": FRAME, "bestList": [FRAME]}})
    verdict = client_for(double.url).verify_video(video=video, liveness_type=0, best_frames=1)
    assert form(double.requests[0])["bestBase64"] == "1"
    assert verdict.best_frames == [JPEG, JPEG]


def test_video_auth_sends_base64_colon_and_reads_the_scores(double, video, calls):
    double.respond = reply({
        "reason": "检测成功", "error_code": 0,
        "result": {"orderid": "JH5", "livingScore": 0.99, "faceScore": 0.72, "faceAdvise": "系统判断为同一人",
                   "pictures": ["https://apis.juhe.cn/videoAuth/face-store?p=1.jpg"]},
    })

    verdict = client_for(double.url, recorder=calls).verify_identity_video(video=video, realname="张三", idcard="11010519491231002X", rate_type=4)

    sent = form(double.requests[0])
    assert double.requests[0].path == "/videoAuth/query"
    assert set(sent) == {"key", "realname", "idcard", "rate_type", "videoData"}
    assert (sent["key"], sent["realname"], sent["idcard"], sent["rate_type"]) == ("auth-key", "张三", "11010519491231002X", "4")
    assert sent["videoData"].startswith("base64:")
    assert base64.b64decode(sent["videoData"].removeprefix("base64:"), validate=True) == video.read_bytes()
    assert verdict.passed and verdict.scores["living_threshold"] == 0.933801
    assert verdict.picture_urls == ["https://apis.juhe.cn/videoAuth/face-store?p=1.jpg"]
    summary = calls.get().request_summary
    assert summary["realname"] == "张**" and summary["idcard"] == "**************002X" and summary["key"] == "***"
    assert summary["videoData"].endswith("base64 characters>")


@pytest.mark.parametrize(
    "result, passed, reason",
    [
        ({"livingScore": 0.5, "faceScore": 0.9}, False, "not_live"),  # below rate_type 3's 0.649192
        ({"livingScore": 0.7}, False, "face_mismatch"),  # no comparison ran
        ({"livingScore": 0.7, "faceScore": 0.3}, False, "face_mismatch"),
        ({"livingScore": 0.7, "faceScore": 0.8}, True, "passed"),
    ],
)
def test_video_auth_scores_decide_against_the_rate_type_table(double, video, result, passed, reason):
    double.respond = reply({"error_code": 0, "result": {"orderid": "JH", **result}})
    verdict = client_for(double.url).verify_identity_video(video=video, realname="张三", idcard="11010519491231002X", rate_type=3)
    assert (verdict.passed, verdict.reason) == (passed, reason)


def test_2546134_is_a_billed_pass_without_pictures(double, video, calls):
    double.respond = reply({"error_code": 2546134, "reason": "图片不合法", "result": {"orderid": "JH6"}})
    verdict = client_for(double.url, recorder=calls).verify_identity_video(video=video, realname="张三", idcard="11010519491231002X")
    assert verdict.passed and verdict.picture_urls == []
    assert calls.get().billed is True


@pytest.mark.parametrize("code, billed, fixable", [(280243, False, True), (267549, False, True), (267509, True, True), (280244, False, False)])
def test_answers_about_the_video_are_verdicts_not_errors(double, video, code, billed, fixable, calls):
    double.respond = reply({"error_code": code, "reason": "x", "result": {"orderid": "JH7"}})
    verdict = client_for(double.url, recorder=calls).verify_video(video=video, liveness_type=0)
    assert (verdict.passed, verdict.vendor_code, verdict.retryable) == (False, code, fixable)
    assert calls.get().billed is billed


@pytest.mark.parametrize("code, permanent", [(10001, True), (10012, False), (10014, False), (10020, False), (2546135, False)])
def test_service_codes_are_typed_refusals(double, video, code, permanent):
    double.respond = reply({"error_code": code, "reason": "x", "result": None})
    with pytest.raises(VendorRejected) as refused:
        client_for(double.url).verify_video(video=video, liveness_type=0)
    assert (refused.value.code, refused.value.permanent) == (code, permanent)


@pytest.mark.parametrize(
    "respond",
    [lambda r: (200, {"Content-Type": "text/html"}, b"<html/>"), lambda r: (503, {}, b""),
     lambda r: (200, {"Content-Type": "application/json"}, b'{"reason": "no code"}')],
    ids=["html", "503", "no-error-code"],
)
def test_answers_outside_the_protocol_are_response_errors(double, video, respond):
    double.respond = respond
    with pytest.raises(VendorResponseError):
        client_for(double.url).verify_video(video=video, liveness_type=0)


def test_a_video_over_the_base64_limit_is_never_sent(double, tmp_path):
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\x00" * (juhe.VIDEO_MAX_BYTES + 3))
    with pytest.raises(ValueError, match="base64"):
        client_for(double.url).verify_video(video=big, liveness_type=0)
    assert double.requests == []


def test_base64_is_streamed_without_copies_of_the_video_in_memory(double, tmp_path):
    double.respond = reply({"error_code": 0, "result": {"orderid": "JH8"}})
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x01\x02\x03" * (1_500_000))  # 4.5 MB
    client = client_for(double.url)

    tracemalloc.start()
    client.verify_video(video=clip, liveness_type=0)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    # The test's own stand-in server keeps the 6 MB body it received; the
    # client side must stay far below one copy of the video on top of that.
    received = len(double.requests[0].body)
    assert peak - received < 2_000_000, f"peak {peak:,} bytes beyond the {received:,} the server kept"


@pytest.mark.parametrize("size", [0, 1, 2, 3, 1000, juhe.CHUNK_BYTES])
def test_the_videos_form_escaped_base64_is_what_quote_plus_makes(size):
    import os
    from urllib.parse import quote_plus

    chunk = os.urandom(size) + bytes(range(256))[: size % 7] + b"\xfb\xff\xfe" * (size % 3)

    assert juhe.form_escaped_base64(chunk) == quote_plus(base64.b64encode(chunk)).encode()
