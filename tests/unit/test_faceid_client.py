"""The FaceID client: what it sends (the SDK's TC3 signing, through our
transport), how it reads answers, errors the SDK lets through, faults, and
what a call's record keeps. Against the sandbox over real HTTP:
tests/sandbox/test_faceid_client.py."""

import base64
import json
import re

import pytest

from tests.support.http_double import slow
from verification.vendors import faceid
from verification.vendors.base import VendorConnectionError, VendorRejected, VendorResponseError

SECRET_ID, SECRET_KEY = "AKIDexample", "secret-key-example"


def client_for(url, calls=None):
    return faceid.FaceIdClient(base_url=url, secret_id=SECRET_ID, secret_key=SECRET_KEY, rule_id="7",
                               region="ap-guangzhou", timeout=(1, 2), recorder=calls)


def reply(fields, content_type="application/json", status=200):
    body = json.dumps({"Response": {**fields, "RequestId": "req-1"}}).encode()
    return lambda request: (status, {"Content-Type": content_type}, body)


@pytest.fixture
def double():
    from tests.support.http_double import HttpDouble

    with HttpDouble() as server:
        yield server


def test_it_posts_signed_json_to_the_root_with_the_action_and_version(double, calls):
    double.respond = reply({"LiveCode": "4392"})
    assert client_for(double.url, calls).get_live_code() == "4392"
    sent = double.requests[0]
    assert (sent.method, sent.path) == ("POST", "/")
    headers = {k.lower(): v for k, v in sent.headers.items()}
    assert headers["content-type"] == "application/json"
    assert (headers["x-tc-action"], headers["x-tc-version"]) == ("GetLiveCode", "2018-03-01")
    assert "x-tc-region" not in headers  # "本接口不需要传递此参数"
    assert re.fullmatch(
        r"TC3-HMAC-SHA256 Credential=AKIDexample/\d{4}-\d{2}-\d{2}/faceid/tc3_request, "
        r"SignedHeaders=content-type;host, Signature=[0-9a-f]{64}", headers["authorization"])
    assert json.loads(sent.body) == {}
    record = calls.get(endpoint="GetLiveCode")
    assert (record.vendor, record.http_status, record.request_id, record.billed) == ("faceid", 200, "req-1", False)


def test_liveness_sends_the_video_and_region_and_keeps_no_identity_in_clear(double, calls, tmp_path):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"x" * 100)
    double.respond = reply({"Result": "Success", "Description": "成功", "Sim": 88.5, "BestFrameBase64": None})
    answer = client_for(double.url, calls).liveness_recognition(idcard="11010519491231002x", name="张三",
                                                                 video=video, live_code="1234")
    assert (answer.result, answer.sim) == ("Success", 88.5)
    body = json.loads(double.requests[0].body)
    assert body == {"IdCard": "11010519491231002X", "Name": "张三", "LivenessType": "LIP", "ValidateData": "1234",
                    "VideoBase64": base64.b64encode(video.read_bytes()).decode()}
    assert {k.lower(): v for k, v in double.requests[0].headers.items()}["x-tc-region"] == "ap-guangzhou"
    record = calls.get(endpoint="LivenessRecognition")
    assert record.billed is True and record.vendor_code == "Success"
    assert "张三" not in json.dumps(record.request_summary, ensure_ascii=False)
    assert "11010519491231002" not in json.dumps(record.request_summary)


def test_an_error_envelope_is_a_rejection_even_when_the_sdk_lets_it_through(double, calls):
    error = {"Error": {"Code": "InvalidParameterValue.RuleIdNotExist", "Message": "RuleId不存在"}}
    for content_type in ("application/json", "application/json; charset=utf-8"):
        double.respond = reply(error, content_type=content_type)
        with pytest.raises(VendorRejected) as raised:
            client_for(double.url, calls).detect_auth(redirect_url="https://portal.example/back")
        assert raised.value.code == "InvalidParameterValue.RuleIdNotExist"
        assert raised.value.permanent and raised.value.billed is False and raised.value.request_id == "req-1"
    assert [r.vendor_code for r in calls] == ["InvalidParameterValue.RuleIdNotExist"] * 2


def test_answers_outside_the_protocol_are_response_errors(double, calls):
    for respond in (
        lambda request: (502, {"Content-Type": "text/html"}, b"<h1>Bad gateway</h1>"),
        lambda request: (200, {"Content-Type": "text/html"}, b"<h1>proxy</h1>"),
        reply({}),  # no LiveCode: never taken for an answer
    ):
        double.respond = respond
        with pytest.raises(VendorResponseError):
            client_for(double.url, calls).get_live_code()
    assert [r.http_status for r in calls] == [502, 200, 200]


def test_a_timeout_and_a_refused_connection_are_connection_errors(double, calls):
    double.respond = slow(3, reply({"LiveCode": "1"}))
    with pytest.raises(VendorConnectionError) as raised:
        client_for(double.url, calls).get_live_code()
    assert raised.value.reached is True
    with pytest.raises(VendorConnectionError) as raised:
        client_for("http://127.0.0.1:9", calls).get_live_code()
    assert raised.value.reached is False and raised.value.billed is False


def test_detect_info_reads_the_verdict_frame_and_video(double, calls):
    frame, video = b"\xff\xd8jpeg", b"\x00\x00\x00\x18ftypmp4"
    double.respond = reply({
        "Text": {"ErrCode": 0, "ErrMsg": "成功", "LiveStatus": 0, "Comparestatus": 0, "Sim": "91.20",
                 "IdCard": "11010519491231002X", "Name": "张三", "OcrAddress": "北京市"},
        "BestFrame": {"BestFrame": base64.b64encode(frame).decode()},
        "VideoData": {"LivenessVideo": base64.b64encode(video).decode()},
    })
    info = client_for(double.url, calls).get_detect_info("CE661F1A-0F1E")
    assert (info.err_code, info.live_status, info.compare_status, info.sim) == (0, 0, 0, 91.2)
    assert (info.best_frame, info.video, info.name) == (frame, video, "张三")
    assert json.loads(double.requests[0].body) == {"BizToken": "CE661F1A-0F1E", "RuleId": "7", "InfoType": "134"}
    record = calls.get(endpoint="GetDetectInfoEnhanced")
    text = record.response_summary["Response"]["Text"]
    assert "OcrAddress" not in text and text["ErrMsg"] == "成功" and "张三" not in json.dumps(text, ensure_ascii=False)
    assert record.vendor_code == "0" and record.billed is True


def test_a_pending_text_has_no_code(double, calls):
    double.respond = reply({"Text": {"ErrCode": None, "Sim": None}, "BestFrame": None})
    info = client_for(double.url, calls).get_detect_info("T")
    assert info.err_code is None and info.best_frame is None
    assert calls.get(endpoint="GetDetectInfoEnhanced").billed is False


def test_the_code_table_gives_reasons_and_messages():
    assert faceid.describe("FailedOperation.LipVoiceRecognize").reason == "lip_code_mismatch"
    assert faceid.describe("FailedOperation.CompareLowSimilarity").billed is True
    assert faceid.describe(2006).reason == "identity_mismatch"
    assert faceid.describe("2016").reason == "face_mismatch"
    assert faceid.describe("AuthFailure.SignatureFailure").permanent
    assert faceid.describe("Nonsense") is faceid.UNKNOWN_CODE and faceid.describe(99999) is faceid.UNKNOWN_CODE
    assert faceid.is_verdict_code("FailedOperation.LivessDetectFake")
    assert not faceid.is_verdict_code("InternalError")


def test_the_sdks_own_logging_of_bodies_writes_nothing(double, calls, caplog, tmp_path):
    import logging

    video = tmp_path / "v.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    double.respond = reply({"Result": "Success", "Description": "成功", "Sim": 90.0})
    with caplog.at_level(logging.DEBUG):
        client_for(double.url, calls).liveness_recognition(idcard="11010519491231002X", name="张三", video=video,
                                                           live_code="1234")
        logging.getLogger("tencentcloud_sdk_common").critical("body 11010519491231002X")
    assert "11010519491231002X" not in caplog.text and "张三" not in caplog.text
    assert "vendor=faceid endpoint=LivenessRecognition" in caplog.text  # our transport's line, without a body
