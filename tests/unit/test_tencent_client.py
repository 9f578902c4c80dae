"""The Tencent client: the exact requests (checked against an independent
reading of document 002), the decision order, the code table and faults.
The same client against the sandbox over real HTTP is in test_recorded_flow."""

import base64
import hashlib
import hmac
import json
import re
import time
from email.parser import BytesParser
from email.policy import HTTP

import pytest

from tests.support.http_double import slow
from tests.support.media_samples import make_jpeg
from verification.vendors import tencent
from verification.vendors.base import VendorConnectionError, VendorRejected, VendorResponseError

APP_ID, SECRET_ID, SECRET_KEY = "1250000001", "AKIDexample", "secret-key-example"
OK = {"code": 0, "message": "OK"}


def client_for(url, **kwargs):
    return tencent.TencentClient(
        base_url=url, app_id=APP_ID, secret_id=SECRET_ID, secret_key=SECRET_KEY, bucket="", timeout=(1, 2), **kwargs
    )


def reply(body):
    return lambda request: (200, {"Content-Type": "application/json"}, json.dumps(body).encode())


def multipart(request) -> dict:
    """The parts of a multipart/form-data body: name → bytes."""
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.body)
    return {part.get_param("name", header="content-disposition"): part.get_payload(decode=True) for part in message.iter_parts()}


@pytest.fixture
def double(settings):
    from tests.support.http_double import HttpDouble

    with HttpDouble() as server:
        yield server


def test_every_request_carries_the_documented_multi_use_signature(double):
    double.respond = reply({**OK, "data": {"validate_data": "9532"}})
    before = int(time.time())

    client_for(double.url).get_lip_code()

    raw = base64.b64decode(double.requests[0].headers["Authorization"], validate=True)
    digest, original = raw[:20], raw[20:]
    assert digest == hmac.new(SECRET_KEY.encode(), original, hashlib.sha1).digest()
    fields = re.fullmatch(rb"a=(\d+)&b=(.*)&k=(\w+)&e=(\d+)&t=(\d+)&r=(\d{1,10})&f=", original)
    assert fields, original
    a, b, k, e, t, _r = fields.groups()
    assert (a.decode(), b, k.decode()) == (APP_ID, b"", SECRET_ID)
    assert before <= int(t) <= time.time() < int(e)


def test_livegetfour_is_json_with_the_appid(double):
    double.respond = reply({**OK, "data": {"validate_data": "9532"}})

    assert client_for(double.url).get_lip_code(seq="s-1") == "9532"

    (request,) = double.requests
    assert (request.method, request.path) == ("POST", "/face/livegetfour")
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {"appid": APP_ID, "seq": "s-1"}


def test_livedetectfour_without_a_photo_sends_compare_flag_false(double, tmp_path):
    double.respond = reply({**OK, "data": {"live_status": 0, "live_msg": "OK"}})
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42video-bytes")

    verdict = client_for(double.url).detect_lip_video(validate_data="9532", video=video, seq="s-1")

    parts = multipart(double.requests[0])
    assert double.requests[0].path == "/face/livedetectfour"
    assert parts == {"appid": APP_ID.encode(), "validate_data": b"9532", "compare_flag": b"false", "seq": b"s-1",
                     "video": video.read_bytes()}
    assert verdict.passed and verdict.reason == "passed"


def test_livedetectfour_with_a_reference_photo_sends_it_as_card(double, tmp_path):
    photo = base64.b64encode(make_jpeg(120, 160)).decode()
    double.respond = reply({**OK, "data": {"live_status": 0, "compare_status": 0, "sim": 91, "photo": photo}})
    video = tmp_path / "v.mp4"
    video.write_bytes(b"video")
    card = make_jpeg()

    verdict = client_for(double.url).detect_lip_video(validate_data="1234", video=video, card=card)

    parts = multipart(double.requests[0])
    assert parts["compare_flag"] == b"true" and parts["card"] == card
    assert verdict.passed and verdict.scores == {"live_status": 0, "compare_status": 0, "sim": 91, "sim_threshold": 80}
    assert verdict.photo.startswith(b"\xff\xd8")


def test_idcardlivedetectfour_sends_the_identity(double, tmp_path, calls):
    double.respond = reply({**OK, "data": {"live_status": 0, "compare_status": 0, "sim": 85, "video_photo": ""}})
    video = tmp_path / "v.mp4"
    video.write_bytes(b"video")

    client_for(double.url, recorder=calls).detect_idcard_lip_video(
        validate_data="1234", video=video, idcard_number="11010519491231002X", idcard_name="张三"
    )

    parts = multipart(double.requests[0])
    assert double.requests[0].path == "/face/idcardlivedetectfour"
    assert parts["idcard_number"] == b"11010519491231002X" and parts["idcard_name"].decode() == "张三"
    call = calls.get()
    assert call.request_summary["idcard_number"] == "**************002X" and call.request_summary["idcard_name"] == "张**"
    assert call.request_summary["video"] == "<5 bytes>"


def test_idcardcompare_by_url_is_json(double):
    double.respond = reply({**OK, "data": {"similarity": 88.5, "session_id": ""}})

    comparison = client_for(double.url).compare_idcard(
        idcard_number="11010519491231002X", idcard_name="张三", image_url="https://x.example/face.jpg"
    )

    assert json.loads(double.requests[0].body) == {
        "appid": APP_ID, "idcard_number": "11010519491231002X", "idcard_name": "张三", "url": "https://x.example/face.jpg",
    }
    assert comparison.similarity == 88.5 and comparison.passed


def test_livedetectpicture_sends_the_image(double):
    double.respond = reply({**OK, "data": {"score": 91}})
    image = make_jpeg()

    liveness = client_for(double.url).detect_picture(image=image)

    assert multipart(double.requests[0]) == {"appid": APP_ID.encode(), "image": image}
    assert liveness.score == 91 and liveness.passed


# --- the decision order ---------------------------------------------------------


@pytest.mark.parametrize(
    "data, compared, passed, reason, code",
    [
        ({"live_status": -5008}, True, False, "not_live", -5008),
        ({"live_status": 0, "compare_status": -4015}, True, False, "face_mismatch", -4015),
        ({"live_status": 0, "compare_status": -5803}, True, False, "identity_mismatch", -5803),
        ({"live_status": 0, "compare_status": 0, "sim": 79}, True, False, "face_mismatch", 0),
        ({"live_status": 0, "compare_status": 0, "sim": 80}, True, True, "passed", 0),
        ({"live_status": 0}, False, True, "passed", 0),
    ],
)
def test_answers_are_read_in_the_documented_order(data, compared, passed, reason, code):
    verdict = tencent.decide(data, compared=compared, threshold=80)
    assert (verdict.passed, verdict.reason, verdict.vendor_code) == (passed, reason, code)


def test_the_threshold_is_configurable(double, tmp_path, settings):
    settings.TENCENT_SIM_THRESHOLD = 70
    double.respond = reply({**OK, "data": {"live_status": 0, "compare_status": 0, "sim": 75}})
    video = tmp_path / "v.mp4"
    video.write_bytes(b"v")
    assert client_for(double.url).detect_lip_video(validate_data="1", video=video, card=make_jpeg()).passed


# --- codes and faults ---------------------------------------------------------------


@pytest.mark.parametrize("code, permanent", [(14, True), (15, False), (213, False), (-5007, False)])
def test_a_non_zero_code_is_a_typed_refusal_and_not_billed(double, code, permanent, calls):
    double.respond = reply({"code": code, "message": "x"})

    with pytest.raises(VendorRejected) as refused:
        client_for(double.url, recorder=calls).get_lip_code()

    assert (refused.value.code, refused.value.permanent, refused.value.billed) == (code, permanent, False)
    call = calls.get()
    assert (call.vendor_code, call.billed) == (str(code), False)


@pytest.mark.parametrize("data, shown", [
    ({"live_status": -5008}, "-5008"),
    ({"live_status": 0, "compare_status": -5803}, "-5803"),
    ({"live_status": 0, "compare_status": 0, "sim": 91}, "0"),
])
def test_the_call_row_shows_the_field_status_that_judged_the_person(double, calls, tmp_path, data, shown):
    double.respond = reply({**OK, "data": data})
    video = tmp_path / "v.mp4"
    video.write_bytes(b"v")
    client_for(double.url, recorder=calls).detect_lip_video(validate_data="1", video=video, card=make_jpeg())
    call = calls.get()
    assert (call.vendor_code, call.billed) == (shown, True)
    assert tencent.describe(shown) is not tencent.UNKNOWN_CODE


def test_code_0_is_success_not_an_unknown_code():
    assert tencent.describe(0) is not tencent.UNKNOWN_CODE and "0" in tencent.SUCCESS_CODES


def test_a_processed_request_is_counted_as_billed(double, calls):
    double.respond = reply({**OK, "data": {"validate_data": "1"}})
    client_for(double.url, recorder=calls).get_lip_code()
    assert calls.get().billed is True


@pytest.mark.parametrize(
    "respond",
    [
        lambda r: (200, {"Content-Type": "text/html"}, b"<html>gateway</html>"),
        lambda r: (502, {}, b""),
        lambda r: (200, {"Content-Type": "application/json"}, b'{"code": 0}'),
        lambda r: (200, {"Content-Type": "application/json"}, b'{"code": 0, "data": {"live_status": "x"}}'),
    ],
    ids=["html", "502", "no-data", "bad-number"],
)
def test_answers_outside_the_protocol_are_response_errors(double, tmp_path, respond):
    double.respond = respond
    video = tmp_path / "v.mp4"
    video.write_bytes(b"v")
    with pytest.raises(VendorResponseError):
        client_for(double.url).detect_lip_video(validate_data="1", video=video)


def test_a_timeout_after_sending_may_have_reached_tencent(double, tmp_path):
    double.respond = slow(2, reply(OK))
    video = tmp_path / "v.mp4"
    video.write_bytes(b"v")
    with pytest.raises(VendorConnectionError) as failed:
        tencent.TencentClient(
            base_url=double.url, app_id=APP_ID, secret_id=SECRET_ID, secret_key=SECRET_KEY, timeout=(1, 0.3)
        ).detect_lip_video(validate_data="1", video=video)
    assert failed.value.reached and failed.value.billed is None
