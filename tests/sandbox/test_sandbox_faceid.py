"""The FaceID (API 3.0) sandbox, driven by Tencent's own SDK over real HTTP
(tencentcloud-sdk-python-faceid: its TC3-HMAC-SHA256 signing, its models),
and attacked with requests the SDK would never send: a wrong key, a clock
off by more than five minutes, a credential scope or signed headers that do
not match, parameters missing or unknown."""

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
import requests
from django.utils import timezone
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.faceid.v20180301 import faceid_client, models

from sandbox.credentials import FACEID_RULE_ID, TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY
from sandbox.models import FaceIdCheck, FaceIdLiveCode
from tests.support.media_samples import make_jpeg, video_bytes

pytestmark = pytest.mark.django_db(transaction=True)

PASSING_ID, NAME = "11010519491231002X", "张三"


def sdk(server, *, secret_id=TENCENTCLOUD_SECRET_ID, secret_key=TENCENTCLOUD_SECRET_KEY, region=""):
    host = server.url.split("://", 1)[1]
    profile = ClientProfile(httpProfile=HttpProfile(endpoint=host, protocol="http", reqTimeout=20))
    return faceid_client.FaceidClient(credential.Credential(secret_id, secret_key), region, profile)


def error_code(call):
    with pytest.raises(TencentCloudSDKException) as raised:
        call()
    return raised.value.get_code()


@pytest.fixture(scope="module")
def clip():
    return video_bytes(seconds=2.5)


def b64(data):
    return base64.b64encode(data).decode()


# --- H5: DetectAuth → page → GetDetectInfoEnhanced ------------------------------------------


def detect_auth(server, **fields):
    request = models.DetectAuthRequest()
    request.from_json_string(json.dumps({"RuleId": FACEID_RULE_ID, "RedirectUrl": "https://portal.example/back?x=1",
                                         **fields}))
    return sdk(server).DetectAuth(request)


def detect_info(server, token, info_type="134"):
    request = models.GetDetectInfoEnhancedRequest()
    request.BizToken, request.RuleId, request.InfoType = token, FACEID_RULE_ID, info_type
    return sdk(server).GetDetectInfoEnhanced(request)


def test_detect_auth_gives_a_token_and_a_page_that_returns_with_it(sandbox):
    started = detect_auth(sandbox, IdCard=PASSING_ID, Name=NAME)
    assert started.BizToken and started.RequestId
    page = requests.get(started.Url)
    assert page.status_code == 200 and 'id="faceid-pass"' in page.text

    back = requests.post(f"{sandbox.url}/sandbox/faceid/h5/finish", data={"token": started.BizToken,
                                                                            "outcome": "pass"},
                         allow_redirects=False)
    assert back.status_code == 302
    assert back.headers["Location"] == (
        f"https://portal.example/back?x=1&token={started.BizToken}")

    info = detect_info(sandbox, started.BizToken)
    assert (info.Text.ErrCode, info.Text.LiveStatus, info.Text.Comparestatus, info.Text.Sim) == (0, 0, 0, "92.00")
    assert (info.Text.IdCard, info.Text.Name) == (PASSING_ID, NAME)
    assert base64.b64decode(info.BestFrame.BestFrame)[:2] == b"\xff\xd8"
    assert base64.b64decode(info.VideoData.LivenessVideo)[4:8] == b"ftyp"


def test_before_the_page_is_finished_the_text_is_empty_and_a_second_choice_changes_nothing(sandbox):
    started = detect_auth(sandbox)
    assert detect_info(sandbox, started.BizToken).Text.ErrCode is None
    for outcome in ("not_live", "pass"):
        requests.post(f"{sandbox.url}/sandbox/faceid/h5/finish", data={"token": started.BizToken,
                                                                        "outcome": outcome}, allow_redirects=False)
    info = detect_info(sandbox, started.BizToken, info_type="1")
    assert (info.Text.ErrCode, info.Text.LiveStatus) == (1002, 1002)
    assert info.BestFrame is None and info.VideoData is None


def test_a_token_left_unfinished_answers_15_after_two_hours_and_dies_after_three_days(sandbox):
    started = detect_auth(sandbox)
    FaceIdCheck.objects.filter(biz_token=started.BizToken).update(created_at=timezone.now() - timedelta(hours=3))
    assert detect_info(sandbox, started.BizToken).Text.ErrCode == 15
    FaceIdCheck.objects.filter(biz_token=started.BizToken).update(created_at=timezone.now() - timedelta(days=4))
    assert error_code(lambda: detect_info(sandbox, started.BizToken)) == "InvalidParameterValue.BizTokenExpired"


def test_detect_auth_refuses_what_the_document_does_not_allow(sandbox):
    assert error_code(lambda: detect_auth(sandbox, RuleId="99")) == "InvalidParameterValue.RuleIdNotExist"
    assert error_code(lambda: detect_auth(sandbox, IdCard=PASSING_ID)) == "InvalidParameter"
    assert error_code(lambda: detect_auth(sandbox, IdCard=PASSING_ID.lower(), Name=NAME)) == "InvalidParameterValue"
    assert error_code(lambda: detect_auth(sandbox, RedirectUrl="javascript:alert(1)")) == "InvalidParameterValue"
    assert error_code(lambda: detect_info(sandbox, "CE661F1A-0F1E-45BD-BE13-34C05CEA7681")) == "InvalidParameter"


# --- Lip: GetLiveCode → LivenessRecognition / LivenessCompare ------------------------------------


def live_code(server):
    return sdk(server).GetLiveCode(models.GetLiveCodeRequest()).LiveCode


def recognise(server, video, code, *, id_card=PASSING_ID, name=NAME, **more):
    request = models.LivenessRecognitionRequest()
    request.from_json_string(json.dumps({"IdCard": id_card, "Name": name, "LivenessType": "LIP",
                                         "ValidateData": code, "VideoBase64": b64(video), **more}))
    return sdk(server, region="ap-guangzhou").LivenessRecognition(request)


def test_lip_liveness_passes_a_good_video_once_per_code(sandbox, clip):
    code = live_code(sandbox)
    assert len(code) == 4 and code.isdigit()
    answer = recognise(sandbox, clip, code, Optional=json.dumps({"BestFrameNum": 2}))
    assert (answer.Result, answer.Sim) == ("Success", 92.5)
    assert base64.b64decode(answer.BestFrameBase64)[:2] == b"\xff\xd8" and len(answer.BestFrameList) == 2
    assert FaceIdLiveCode.objects.get().used_at is not None
    assert error_code(lambda: recognise(sandbox, clip, code)) == "InvalidParameterValue"
    assert error_code(lambda: recognise(sandbox, clip, "0000" if code != "0000" else "1111")) == \
        "InvalidParameterValue"


@pytest.mark.parametrize("name, id_card, result, sim", [
    ("张不符", PASSING_ID, "FailedOperation.IdNameMisMatch", 0),
    ("李不像", PASSING_ID, "FailedOperation.CompareLowSimilarity", 35.0),
    (NAME, "110105199001010010", "FailedOperation.IdNoExistSystem", 0),
])
def test_test_identities_give_their_verdicts(sandbox, clip, name, id_card, result, sim):
    answer = recognise(sandbox, clip, live_code(sandbox), id_card=id_card, name=name)
    assert (answer.Result, answer.Sim) == (result, sim)


def test_the_video_is_judged_from_its_content(sandbox):
    cases = {
        "FailedOperation.LipVideoInvalid": video_bytes(seconds=2.5, container="webm", video_codec="libvpx-vp9",
                                                       audio_codec="libopus"),
        "FailedOperation.SilentTooShort": video_bytes(seconds=1.0),
        "FailedOperation.LipVoiceDetect": video_bytes(seconds=2.5, audio=None),
        "FailedOperation.LipVoiceLow": video_bytes(seconds=2.5, audio="silence"),
        "FailedOperation.LipVideoQuaility": video_bytes(seconds=2.5, width=240, height=426),
    }
    for result, video in cases.items():
        assert recognise(sandbox, video, live_code(sandbox)).Result == result, result
    assert recognise(sandbox, b"not a video", live_code(sandbox)).Result == "FailedOperation.LipVideoInvalid"


def test_liveness_compare_takes_a_photo_instead_of_an_identity(sandbox, clip):
    request = models.LivenessCompareRequest()
    request.ImageBase64, request.LivenessType = b64(make_jpeg(480, 640)), "LIP"
    request.ValidateData, request.VideoBase64 = live_code(sandbox), b64(clip)
    answer = sdk(sandbox).LivenessCompare(request)
    assert (answer.Result, answer.Sim) == ("Success", 92.5)
    request.ValidateData, request.ImageBase64 = live_code(sandbox), b64(b"GIF89a....")
    assert error_code(lambda: sdk(sandbox).LivenessCompare(request)) == "InvalidParameterValue"


def test_a_steered_result_replaces_the_verdict(sandbox, clip):
    queued = requests.post(f"{sandbox.url}/sandbox/faceid/steer",
                           data={"endpoint": "LivenessRecognition", "Result": "FailedOperation.LipVoiceRecognize"})
    assert queued.status_code == 201
    assert recognise(sandbox, clip, live_code(sandbox)).Result == "FailedOperation.LipVoiceRecognize"
    assert recognise(sandbox, clip, live_code(sandbox)).Result == "Success"


# --- Strictness: what the SDK would never send ----------------------------------------------------


def test_a_wrong_secret_key_or_an_unknown_secret_id_is_refused(sandbox):
    assert error_code(lambda: sdk(sandbox, secret_key="wrong").GetLiveCode(models.GetLiveCodeRequest())) == \
        "AuthFailure.SignatureFailure"
    assert error_code(lambda: sdk(sandbox, secret_id="AKIDnobody").GetLiveCode(models.GetLiveCodeRequest())) == \
        "AuthFailure.SecretIdNotFound"


def signed(server, action, body, *, timestamp=None, service="faceid", signed_headers="content-type;host",
           host=None, version="2018-03-01", secret_key=TENCENTCLOUD_SECRET_KEY, tamper=None):
    """A request signed by the document's recipe (digest §2), written here
    rather than taken from the SDK, with one thing changed per test."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    date = datetime.fromtimestamp(timestamp, tz=dt_timezone.utc).strftime("%Y-%m-%d")
    sent_host = server.url.split("://", 1)[1]
    payload = json.dumps(body)
    # `host` changes only what is signed; the request goes to the server's own.
    headers = {"content-type": "application/json", "host": host or sent_host, "x-tc-action": action.lower()}
    names = signed_headers.split(";")
    canonical = "\n".join(["POST", "/", "", "".join(f"{n}:{headers[n]}\n" for n in names), signed_headers,
                           hashlib.sha256(payload.encode()).hexdigest()])
    scope = f"{date}/{service}/tc3_request"
    to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = hmac.new(("TC3" + secret_key).encode(), date.encode(), hashlib.sha256).digest()
    for part in (service, "tc3_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    sent = {"Content-Type": "application/json", "Host": sent_host, "X-TC-Action": action, "X-TC-Timestamp": str(timestamp),
            "Authorization": f"TC3-HMAC-SHA256 Credential={TENCENTCLOUD_SECRET_ID}/{scope}, "
                             f"SignedHeaders={signed_headers}, Signature={signature}"}
    if version is not None:
        sent["X-TC-Version"] = version
    if tamper:
        payload = tamper(payload)
    answer = requests.post(f"{server.url}/", data=payload.encode(), headers=sent)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
    return answer.json()["Response"]


def code_of(response):
    return response.get("Error", {}).get("Code")


def test_the_documents_recipe_is_accepted_and_each_deviation_refused(sandbox):
    assert "LiveCode" in signed(sandbox, "GetLiveCode", {})
    assert "LiveCode" in signed(sandbox, "GetLiveCode", {}, signed_headers="content-type;host;x-tc-action")
    cases = {
        "AuthFailure.SignatureExpire": dict(timestamp=int(time.time()) - 301),
        "AuthFailure.InvalidAuthorization": dict(service="cvm"),
        "AuthFailure.SignatureFailure": dict(host="faceid.tencentcloudapi.com"),
        "NoSuchVersion": dict(version="2017-01-01"),
        "MissingParameter": dict(version=None),
    }
    for code, change in cases.items():
        assert code_of(signed(sandbox, "GetLiveCode", {}, **change)) == code, code
    assert code_of(signed(sandbox, "GetLiveCode", {}, signed_headers="host")) == "AuthFailure.InvalidAuthorization"
    tampered = signed(sandbox, "GetLiveCode", {}, tamper=lambda body: '{"x": 1}')
    assert code_of(tampered) == "AuthFailure.SignatureFailure"
    assert code_of(signed(sandbox, "DescribeInstances", {})) == "InvalidAction"


def test_parameters_are_checked_by_name_presence_and_type(sandbox):
    assert code_of(signed(sandbox, "GetLiveCode", {"Seq": "1"})) == "UnknownParameter"
    assert code_of(signed(sandbox, "DetectAuth", {"RedirectUrl": "https://a.example/"})) == "MissingParameter"
    assert code_of(signed(sandbox, "DetectAuth", {"RuleId": 1})) == "InvalidParameter"
    assert code_of(signed(sandbox, "LivenessRecognition", {"IdCard": PASSING_ID, "Name": NAME,
                                                           "LivenessType": "LIP", "ValidateData": "1234"})) == \
        "InvalidParameterValue"  # a code GetLiveCode never gave
    code = signed(sandbox, "GetLiveCode", {})["LiveCode"]
    no_video = {"IdCard": PASSING_ID, "Name": NAME, "LivenessType": "LIP", "ValidateData": code}
    assert code_of(signed(sandbox, "LivenessRecognition", no_video)) == "MissingParameter"
    assert code_of(signed(sandbox, "LivenessRecognition", {**no_video, "LivenessType": "lip"})) == \
        "InvalidParameterValue"
    assert code_of(signed(sandbox, "LivenessRecognition", {**no_video, "VideoBase64": "not base64!"})) == \
        "InvalidParameterValue"


def test_only_posts_with_the_action_header_reach_the_emulator(sandbox):
    assert requests.get(f"{sandbox.url}/").status_code == 200  # the landing page, untouched
    refused = requests.get(f"{sandbox.url}/", headers={"X-TC-Action": "GetLiveCode"})
    assert refused.status_code == 405 and "Error" in refused.json()["Response"]
