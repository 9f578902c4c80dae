"""Emulator of Tencent Cloud FaceID (人脸核身, API 3.0, version 2018-03-01).

Written from the protocol digest (shared/vendor-docs tencent-faceid-v3.md)
alone, never from the portal's client, so that a misreading shared by both
cannot pass unseen. Strict: what the digest does not clearly allow is
refused with the documented code that fits best and a message naming the
problem.

The endpoint: like faceid.tencentcloudapi.com, every action is `POST /` of
the host, the action in `X-TC-Action`. In sandbox mode the portal's own
host answers such requests (RootEndpointMiddleware, first in MIDDLEWARE),
so FACEID_BASE_URL defaults to the site itself. Plus, under /sandbox/faceid:

    GET  h5?token=<BizToken>   the emulated H5 page (DetectAuth's Url)
    POST h5/finish             its buttons: record the outcome, go back to
                               RedirectUrl with token=<BizToken> appended
    GET/POST steer             queue the Result of the next
                               LivenessRecognition / LivenessCompare

Every answer is HTTP 200 `application/json` with the envelope
{"Response": {..., "RequestId"}}; a refusal is {"Response": {"Error":
{"Code", "Message"}, "RequestId"}}.

Checks, in this order (digest §1–§3):
  * Content-Type application/json (TC3 POST), body ≤ 10 MB
    (RequestSizeLimitExceeded), X-TC-Action one of the five actions
    (InvalidAction), X-TC-Version 2018-03-01 (NoSuchVersion; missing:
    MissingParameter).
  * Authorization "TC3-HMAC-SHA256 Credential=<SecretId>/<Date>/faceid/
    tc3_request, SignedHeaders=<names>, Signature=<64 hex>" else
    AuthFailure.InvalidAuthorization; the scope's service must be "faceid"
    and its terminator "tc3_request" (InvalidAuthorization); SignedHeaders
    lowercase, in ASCII order, with content-type and host, each present
    (InvalidAuthorization); X-TC-Timestamp plain decimal within
    SANDBOX_CLOCK_SKEW_SECONDS (300) of the sandbox's clock
    (AuthFailure.SignatureExpire), and the scope's Date its UTC date
    (AuthFailure.SignatureFailure); SecretId known
    (AuthFailure.SecretIdNotFound); the signature recomputed from the request
    as received (Host as sent, body hashed, or UNSIGNED-PAYLOAD when
    X-TC-Content-SHA256 says so) and compared in constant time
    (AuthFailure.SignatureFailure).
  * The body: a JSON object (InvalidParameter); names not of the action
    (UnknownParameter); required ones missing (MissingParameter); wrong
    types (InvalidParameter); values out of range (InvalidParameterValue).

Actions:
  DetectAuth            RuleId "1" only (else InvalidParameterValue.
                        RuleIdNotExist); IdCard and Name both or neither;
                        IdCard 18 characters GB 11643 with upper-case X, Name
                        ≤ 32 Chinese characters; RedirectUrl an http(s) URL ≤
                        1024; Extra ≤ 1024; ImageBase64 padded base64 of a
                        JPEG/PNG ≤ 3 MB. Encryption, Intention*, Config are
                        not emulated (UnsupportedOperation).
                        -> Url (the page below), BizToken, RequestId.
  GetDetectInfoEnhanced BizToken of this SecretId ("非法BizToken。",
                        InvalidParameter, otherwise), RuleId its own,
                        InfoType digits 0-6, BestFramesCount 0-10.
                        Before the page was finished: Text with every
                        field null; after 7,200 s without a result ErrCode
                        15; after 3 days InvalidParameterValue.BizTokenExpired.
                        On a choice: Text (ErrCode, ErrMsg, LiveStatus,
                        Comparestatus, Sim "92.00", IdCard, Name, Extra…),
                        BestFrame.BestFrame (InfoType with 3), VideoData.
                        LivenessVideo (with 4), an MP4 of the face.
  GetLiveCode           no parameters -> LiveCode, 4 digits, kept for
                        SANDBOX_FACEID_LIVE_CODE_TTL (1800) s.
  LivenessRecognition   IdCard, Name, LivenessType LIP|SILENT (ACTION is
                        not emulated), ValidateData (LIP: digits GetLiveCode
                        gave this SecretId, fresh, unused, else
                        InvalidParameterValue; SILENT: empty),
                        VideoBase64 or VideoUrl, Optional {"BestFrameNum": 2-10}.
  LivenessCompare       ImageBase64 or ImageUrl instead of IdCard/Name.
  The video, judged from its content (answers inside a normal Result,
  digest §6.4): not a video, or not MP4/AVI/FLV -> FailedOperation.
  LipVideoInvalid; shorter than 2 s -> SilentTooShort; under 270x480 ->
  LipVideoQuaility; LIP without audio -> LipVoiceDetect, quieter than -45
  dBFS -> LipVoiceLow; no motion at all -> LivessDetectFake. Then the
  identity: name 张不符 -> IdNameMisMatch, ID 110105199001010010 ->
  IdNoExistSystem, name 李不像 -> CompareLowSimilarity (Sim 35); else
  Success, Sim 92.5, BestFrameBase64 a frame of the video. A steered Result
  replaces that verdict. The code is used up by any verdict.
"""

import base64
import hashlib
import hmac
import io
import json
import logging
import re
import secrets
import time
import uuid
from datetime import datetime, timedelta, timezone as dt_timezone
from functools import cache
from urllib.parse import urlencode, urlsplit

import av
from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from . import credentials, media
from .identity import id_number_is_valid, name_is_valid
from .jumdata import FACE_IMAGE, embeddable
from .models import FaceIdCheck, FaceIdLiveCode
from .protocol import clock_skew_seconds, origin, quoted
from .steering import SteerError, steer_page, steered
from .trouble import troubled

logger = logging.getLogger(__name__)

VENDOR = "faceid"
SERVICE = "faceid"
VERSION = "2018-03-01"
ALGORITHM = "TC3-HMAC-SHA256"
SECRETS = {credentials.TENCENTCLOUD_SECRET_ID: credentials.TENCENTCLOUD_SECRET_KEY}
RULE_IDS = (credentials.FACEID_RULE_ID,)
MB = 1024 * 1024
MAX_BODY_BYTES = 10 * MB
MAX_VIDEO_BASE64 = 8 * MB
MAX_IMAGE_BASE64 = 3 * MB
BIZ_TOKEN_CHECK_SECONDS = 7200
BIZ_TOKEN_KEEP_SECONDS = 3 * 24 * 3600
DEFAULT_REDIRECT = "https://cloud.tencent.com/product/faceid?Is=sdk-topnav"
MIN_SECONDS = 2.0
MIN_SHORT_SIDE, MIN_LONG_SIDE = 270, 480
VIDEO_CONTAINERS = ("mp4", "avi", "flv")
MIN_AUDIO_RMS_DBFS = -45.0
STILL_MOTION = 0.05
PASS_SIM = 92.5
H5_PASS_SIM = "92.00"

NAME_MISMATCH = "张不符"
LOW_SIMILARITY_NAME = "李不像"
UNKNOWN_ID = "110105199001010010"
EXAMPLE_ID, EXAMPLE_NAME = "11010519491231002X", "张三"

# Parameters of each action: name -> (type, required).
STR, INT, BOOL, DICT, LIST = str, int, bool, dict, list
ACTIONS = {
    "DetectAuth": {
        "RuleId": (STR, True), "TerminalType": (STR, False), "IdCard": (STR, False), "Name": (STR, False),
        "RedirectUrl": (STR, False), "Extra": (STR, False), "ImageBase64": (STR, False),
        "Encryption": (DICT, False), "IntentionVerifyText": (STR, False), "IntentionQuestions": (LIST, False),
        "IntentionActions": (LIST, False), "Config": (DICT, False),
    },
    "GetDetectInfoEnhanced": {
        "BizToken": (STR, True), "RuleId": (STR, True), "InfoType": (STR, False), "BestFramesCount": (INT, False),
        "IsCutIdCardImage": (BOOL, False), "IsNeedIdCardAvatar": (BOOL, False), "IsEncrypt": (BOOL, False),
        "Encryption": (DICT, False), "IsEncryptResponse": (BOOL, False), "IsReturnAllVideo": (BOOL, False),
    },
    "GetLiveCode": {},
    "LivenessRecognition": {
        "IdCard": (STR, True), "Name": (STR, True), "LivenessType": (STR, True), "VideoBase64": (STR, False),
        "VideoUrl": (STR, False), "ValidateData": (STR, False), "Optional": (STR, False),
        "Encryption": (DICT, False),
    },
    "LivenessCompare": {
        "LivenessType": (STR, True), "ImageBase64": (STR, False), "ImageUrl": (STR, False),
        "VideoBase64": (STR, False), "VideoUrl": (STR, False), "ValidateData": (STR, False),
        "Optional": (STR, False),
    },
}
NOT_EMULATED = ("Encryption", "IntentionVerifyText", "IntentionQuestions", "IntentionActions", "Config",
                "IsEncrypt", "IsEncryptResponse")

# What the H5 page's buttons make GetDetectInfoEnhanced answer: ErrCode,
# ErrMsg, LiveStatus, Comparestatus, Sim.
H5_ANSWERS = {
    FaceIdCheck.Outcome.PASS: (0, "成功", 0, 0, H5_PASS_SIM),
    FaceIdCheck.Outcome.NOT_LIVE: (1002, "疑似非真人录制", 1002, None, None),
    FaceIdCheck.Outcome.FACE_MISMATCH: (2016, "比对相似度未达到通过标准", 0, 2016, "35.00"),
    FaceIdCheck.Outcome.IDENTITY_MISMATCH: (2006, "姓名和身份证号不一致", 0, 2006, None),
    FaceIdCheck.Outcome.LIP_MISREAD: (1101, "声音未能识别，请放慢语速，大声读数字", 1101, None, None),
    FaceIdCheck.Outcome.CANCEL: (17, "本次流程未完成", None, None, None),
}
PAGE_BUTTONS = (
    ("pass", "faceid-pass", "Pass", "ErrCode 0, LiveStatus 0, Comparestatus 0, Sim 92.00 (billed)"),
    ("not_live", "faceid-not-live", "Not live", "ErrCode 1002 疑似非真人录制 (billed)"),
    ("face_mismatch", "faceid-face-mismatch", "Not the same person", "ErrCode 2016, Sim 35.00 (billed)"),
    ("identity_mismatch", "faceid-identity-mismatch", "Name and ID do not match", "ErrCode 2006 (billed)"),
    ("lip_misread", "faceid-lip-misread", "Digits not recognised", "ErrCode 1101"),
    ("cancel", "faceid-cancel", "Leave without finishing", "ErrCode 17 本次流程未完成, back with the token"),
)
RESULTS = {
    "Success": "成功",
    "FailedOperation.LipVoiceRecognize": "声音识别失败",
    "FailedOperation.LipVoiceDetect": "未检测到声音",
    "FailedOperation.LipVoiceLow": "声音太小",
    "FailedOperation.LipMoveSmall": "唇动幅度过小",
    "FailedOperation.LipSizeError": "视频为空，或大小不合适，请控制录制时长在6s左右",
    "FailedOperation.LipVideoInvalid": "视频格式有误",
    "FailedOperation.LipVideoQuaility": "视频分辨率太低",
    "FailedOperation.SilentTooShort": "请录制2秒以上的视频",
    "FailedOperation.SilentDetectFail": "实人检测失败",
    "FailedOperation.LivessDetectFail": "活体检测未通过",
    "FailedOperation.LivessDetectFake": "疑似非真人",
    "FailedOperation.CompareLowSimilarity": "比对相似度未达到通过标准",
    "FailedOperation.IdNameMisMatch": "身份证号与姓名不一致",
    "FailedOperation.IdNoExistSystem": "身份证号不存在于权威库",
    "FailedOperation.LifePhotoDetectNoFaces": "未检测到人脸",
}


def live_code_ttl_seconds():
    return getattr(settings, "SANDBOX_FACEID_LIVE_CODE_TTL", 1800)


class Refusal(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


def envelope(fields):
    # Exactly application/json: the SDK reads an Error only under that type.
    return JsonResponse({"Response": {**fields, "RequestId": str(uuid.uuid4())}},
                        content_type="application/json", json_dumps_params={"ensure_ascii": False})


def refuse(refusal):
    return envelope({"Error": {"Code": refusal.code, "Message": refusal.message}})


# --- The endpoint ---------------------------------------------------------------------


class RootEndpointMiddleware:
    """Hands `POST /` requests that carry X-TC-Action to the emulator, as
    faceid.tencentcloudapi.com would take them; everything else goes on."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/" and "HTTP_X_TC_ACTION" in request.META:
            return api(request)
        return self.get_response(request)


@csrf_exempt
@never_cache
@troubled
def api(request):
    if request.method != "POST":
        response = refuse(Refusal("UnsupportedProtocol", "this sandbox takes POST with a JSON body only"))
        response.status_code = 405
        return response
    try:
        action, secret_id = check_request(request)
        params = read_params(request, action)
        answer = HANDLERS[action](request, params, secret_id)
    except Refusal as refusal:
        logger.warning("faceid %s refused: %s", request.META.get("HTTP_X_TC_ACTION", "-"), refusal.code)
        return refuse(refusal)
    logger.info("faceid %s answered", action)
    return envelope(answer)


def check_request(request):
    """The action and the SecretId of a well-formed, correctly signed request."""
    content_type = request.META.get("CONTENT_TYPE", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise Refusal("InvalidParameter", f"Content-Type must be application/json, got {quoted(content_type)}")
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > MAX_BODY_BYTES:
        raise Refusal("RequestSizeLimitExceeded", f"the body is {length} bytes; at most 10 MB is accepted")
    action = request.META.get("HTTP_X_TC_ACTION", "")
    if action not in ACTIONS:
        raise Refusal("InvalidAction", f"action {quoted(action)} is not an action of faceid {VERSION}")
    version = request.META.get("HTTP_X_TC_VERSION")
    if version is None:
        raise Refusal("MissingParameter", "the X-TC-Version header is missing")
    if version != VERSION:
        raise Refusal("NoSuchVersion", f"version {quoted(version)} does not exist; faceid is {VERSION}")
    region = request.META.get("HTTP_X_TC_REGION")
    if region is not None and not re.fullmatch(r"[a-z]{2,3}-[a-z]+(-[a-z0-9]+)?", region):
        raise Refusal("InvalidParameterValue", f"X-TC-Region {quoted(region)} is not a region")
    return action, check_signature(request)


AUTHORIZATION = re.compile(
    r"TC3-HMAC-SHA256 Credential=(?P<secret_id>[^/,\s]+)/(?P<date>[^/,\s]+)/(?P<service>[^/,\s]+)/(?P<term>[^/,\s]+),"
    r" SignedHeaders=(?P<signed>[^,\s]+), Signature=(?P<signature>[0-9a-f]{64})"
)


def check_signature(request):
    header = request.META.get("HTTP_AUTHORIZATION", "")
    match = AUTHORIZATION.fullmatch(header)
    if not match:
        raise Refusal("AuthFailure.InvalidAuthorization",
                      "Authorization must be TC3-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=<64 hex>")
    if match["service"] != SERVICE or match["term"] != "tc3_request":
        raise Refusal("AuthFailure.InvalidAuthorization",
                      f"the credential scope must end /{SERVICE}/tc3_request, got "
                      f"/{match['service']}/{match['term']}")
    signed = match["signed"].split(";")
    if signed != sorted(signed) or any(name != name.lower() for name in signed) or len(set(signed)) != len(signed):
        raise Refusal("AuthFailure.InvalidAuthorization", "SignedHeaders must be lower-case names in ASCII order")
    if not {"content-type", "host"} <= set(signed):
        raise Refusal("AuthFailure.InvalidAuthorization", "SignedHeaders must include content-type and host")
    values = {}
    for name in signed:
        meta = "CONTENT_TYPE" if name == "content-type" else "HTTP_" + name.upper().replace("-", "_")
        if meta not in request.META:
            raise Refusal("AuthFailure.InvalidAuthorization", f"signed header {name} was not sent")
        values[name] = request.META[meta].strip().lower()
    stamp = request.META.get("HTTP_X_TC_TIMESTAMP", "")
    if not re.fullmatch(r"[0-9]{1,12}", stamp):
        raise Refusal("MissingParameter" if not stamp else "InvalidParameter",
                      "X-TC-Timestamp must be the UNIX time in seconds")
    if abs(time.time() - int(stamp)) > clock_skew_seconds():
        raise Refusal("AuthFailure.SignatureExpire",
                      f"X-TC-Timestamp is more than {clock_skew_seconds()} s from the server's clock")
    date = datetime.fromtimestamp(int(stamp), tz=dt_timezone.utc).strftime("%Y-%m-%d")
    if match["date"] != date:
        raise Refusal("AuthFailure.SignatureFailure",
                      f"the credential date {quoted(match['date'])} is not the UTC date of X-TC-Timestamp")
    secret_key = SECRETS.get(match["secret_id"])
    if secret_key is None:
        raise Refusal("AuthFailure.SecretIdNotFound", "the SecretId does not exist")
    unsigned = request.META.get("HTTP_X_TC_CONTENT_SHA256") == "UNSIGNED-PAYLOAD"
    payload = b"UNSIGNED-PAYLOAD" if unsigned else request.body
    canonical = "\n".join((
        "POST", "/", "", "".join(f"{name}:{values[name]}\n" for name in signed), ";".join(signed),
        hashlib.sha256(payload).hexdigest(),
    ))
    to_sign = "\n".join((ALGORITHM, stamp, f"{date}/{SERVICE}/tc3_request",
                         hashlib.sha256(canonical.encode()).hexdigest()))
    key = _hmac(("TC3" + secret_key).encode(), date)
    key = _hmac(_hmac(key, SERVICE), "tc3_request")
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match["signature"]):
        raise Refusal("AuthFailure.SignatureFailure", "the signature does not match the request")
    return match["secret_id"]


def _hmac(key, message):
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def read_params(request, action):
    try:
        params = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refusal("InvalidParameter", "the body is not UTF-8 JSON") from None
    if not isinstance(params, dict):
        raise Refusal("InvalidParameter", "the body must be a JSON object")
    spec = ACTIONS[action]
    unknown = sorted(set(params) - set(spec))
    if unknown:
        raise Refusal("UnknownParameter", f"{action} has no parameter {', '.join(unknown)}")
    for name, (kind, required) in spec.items():
        if name not in params:
            if required:
                raise Refusal("MissingParameter", f"{name} is required")
            continue
        value = params[name]
        if not isinstance(value, kind) or (kind is INT and isinstance(value, bool)):
            raise Refusal("InvalidParameter", f"{name} must be a {kind.__name__.replace('str', 'String')}")
        if name in NOT_EMULATED:
            raise Refusal("UnsupportedOperation", f"{name} is not emulated by the sandbox")
    return params


# --- DetectAuth → the H5 page → GetDetectInfoEnhanced ---------------------------------------


def detect_auth(request, params, secret_id):
    rule_id = params["RuleId"]
    if rule_id not in RULE_IDS:
        raise Refusal("InvalidParameterValue.RuleIdNotExist", f"RuleId {quoted(rule_id)} does not exist")
    id_card, name = params.get("IdCard"), params.get("Name")
    if (id_card is None) != (name is None):
        raise Refusal("InvalidParameter", "this RuleId takes IdCard and Name together, or neither")
    if id_card is not None:
        check_identity(id_card, name)
    redirect = params.get("RedirectUrl", DEFAULT_REDIRECT)
    parts = urlsplit(redirect)
    if len(redirect) > 1024 or parts.scheme not in ("http", "https") or not parts.netloc:
        raise Refusal("InvalidParameterValue", "RedirectUrl must be an http(s) URL of at most 1024 characters")
    extra = params.get("Extra", "")
    if len(extra) > 1024:
        raise Refusal("InvalidParameterValue", "Extra is longer than 1024 characters")
    if "ImageBase64" in params:
        read_image(params["ImageBase64"], "ImageBase64")
    check = FaceIdCheck.objects.create(
        biz_token=str(uuid.uuid4()).upper(), secret_id=secret_id, rule_id=rule_id, redirect_url=redirect,
        id_card=id_card or "", name=name or "", extra=extra,
    )
    url = request.build_absolute_uri(reverse("sandbox:faceid-h5")) + "?" + urlencode({"token": check.biz_token})
    return {"Url": url, "BizToken": check.biz_token}


def check_identity(id_card, name):
    if not id_card or not name:
        raise Refusal("InvalidParameterValue", "IdCard and Name must not be empty")
    if "x" in id_card:
        raise Refusal("InvalidParameterValue", "IdCard: the letter must be an upper-case X")
    if not id_number_is_valid(id_card):
        raise Refusal("InvalidParameterValue", "IdCard is not an 18-character GB 11643 number")
    if len(name) > 32 or not name_is_valid(name):
        raise Refusal("InvalidParameterValue", "Name must be Chinese characters, at most 32")


def get_detect_info(request, params, secret_id):
    check = FaceIdCheck.objects.filter(biz_token=params["BizToken"], secret_id=secret_id).first()
    if check is None:
        raise Refusal("InvalidParameter", "非法BizToken。")
    if params["RuleId"] != check.rule_id:
        raise Refusal("InvalidParameterValue.RuleIdNotExist", "RuleId is not the one the BizToken was made for")
    info_type = params.get("InfoType", "0")
    if not re.fullmatch(r"[0-6]{1,7}", info_type):
        raise Refusal("InvalidParameterValue", "InfoType is a string of digits 0-6")
    frames = params.get("BestFramesCount", 0)
    if not 0 <= frames <= 10:
        raise Refusal("InvalidParameterValue", "BestFramesCount is 0 to 10")
    age = (timezone.now() - check.created_at).total_seconds()
    if age > BIZ_TOKEN_KEEP_SECONDS:
        raise Refusal("InvalidParameterValue.BizTokenExpired", "BizToken已过期。")
    wants = set(info_type) if info_type != "0" else set("1234")
    text = {key: None for key in ("ErrCode", "ErrMsg", "IdCard", "Name", "OcrNation", "OcrAddress", "OcrBirth",
                                  "OcrAuthority", "OcrValidDate", "OcrName", "OcrIdCard", "OcrGender",
                                  "LiveStatus", "LiveMsg", "Comparestatus", "Comparemsg", "Sim", "Location",
                                  "Extra", "LivenessDetail", "Mobile", "CompareLibType", "LivenessMode")}
    answer = {"Text": text if "1" in wants else None, "IdCardData": None, "BestFrame": None, "VideoData": None,
              "Encryption": None}
    outcome = check.outcome
    if not outcome and age > BIZ_TOKEN_CHECK_SECONDS:
        text.update(ErrCode=15, ErrMsg="token已过期")
        return answer
    if not outcome:
        return answer
    err_code, err_msg, live, compare, sim = H5_ANSWERS[outcome]
    if outcome == FaceIdCheck.Outcome.PASS:
        err_code, err_msg, compare, sim = identity_h5_verdict(check)
    id_card, name = (check.id_card, check.name) if check.id_card else (EXAMPLE_ID, EXAMPLE_NAME)
    text.update(ErrCode=err_code, ErrMsg=err_msg, LiveStatus=live, LiveMsg=None if live is None else
                ("成功" if live == 0 else err_msg), Comparestatus=compare,
                Comparemsg=None if compare is None else ("成功" if compare == 0 else err_msg), Sim=sim,
                IdCard=id_card, Name=name, Extra=check.extra, LivenessMode=1, CompareLibType="权威库",
                IdInfoFrom="其他" if check.id_card else "手动输入")
    if outcome != FaceIdCheck.Outcome.CANCEL:
        if "3" in wants:
            answer["BestFrame"] = {"BestFrame": base64.b64encode(FACE_IMAGE.read_bytes()).decode(),
                                   "BestFrames": []}
        if "4" in wants:
            answer["VideoData"] = {"LivenessVideo": base64.b64encode(face_video()).decode()}
    return answer


def identity_h5_verdict(check):
    """(ErrCode, ErrMsg, Comparestatus, Sim) of a passed page, by the test identity."""
    if check.name == NAME_MISMATCH:
        return 2006, "姓名和身份证号不一致", 2006, None
    if check.name == LOW_SIMILARITY_NAME:
        return 2016, "比对相似度未达到通过标准", 2016, "35.00"
    return 0, "成功", 0, H5_PASS_SIM


@cache
def face_video():
    """Two seconds of the sandbox face as an H.264 MP4 (VideoData)."""
    with av.open(str(FACE_IMAGE)) as source:
        picture = next(source.decode(video=0)).reformat(width=360, height=480, format="yuv420p")
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 360, 480, "yuv420p"
        for _ in range(20):
            frame = av.VideoFrame.from_ndarray(picture.to_ndarray(), format="yuv420p")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


@csrf_exempt
@embeddable
@never_cache
@require_GET
def h5(request):
    check = FaceIdCheck.objects.filter(biz_token=request.GET.get("token", "")).first()
    if check is None:
        return HttpResponse(page("Unknown BizToken", "No DetectAuth gave this token."), status=404)
    if (timezone.now() - check.created_at).total_seconds() > BIZ_TOKEN_CHECK_SECONDS:
        return HttpResponse(page("BizToken expired", "It lived 7,200 s after DetectAuth."), status=410)
    context = {"check": check, "buttons": PAGE_BUTTONS, "finish_url": reverse("sandbox:faceid-finish"),
               "outcome_label": check.get_outcome_display()}
    response = HttpResponse(render_to_string("sandbox/faceid_page.html", context))
    response._csp_update = {"form-action": [origin(check.redirect_url)]}
    return response


def page(title, detail):
    return render_to_string("sandbox/faceid_page.html", {"title": title, "detail": detail})


@csrf_exempt
@embeddable
@require_POST
def finish(request):
    outcome = request.POST.get("outcome", "")
    if outcome not in FaceIdCheck.Outcome.values:
        return HttpResponse(page("Unknown outcome", ", ".join(FaceIdCheck.Outcome.values)), status=400)
    check = FaceIdCheck.objects.filter(biz_token=request.POST.get("token", "")).first()
    if check is None:
        return HttpResponse(page("Unknown BizToken", "No DetectAuth gave this token."), status=404)
    # The first choice is final (a double click, the back button, a second tab).
    FaceIdCheck.objects.filter(pk=check.pk, outcome="").update(outcome=outcome, outcome_at=timezone.now())
    # Back to RedirectUrl with the BizToken appended (digest §5.2: `token`),
    # also after a cancel; the redirect proves nothing, the portal must ask.
    separator = "&" if urlsplit(check.redirect_url).query else "?"
    response = HttpResponseRedirect(f"{check.redirect_url}{separator}{urlencode({'token': check.biz_token})}")
    return response


# --- GetLiveCode → LivenessRecognition / LivenessCompare -----------------------------------------


def get_live_code(request, params, secret_id):
    code = f"{secrets.randbelow(10_000):04d}"
    FaceIdLiveCode.objects.create(secret_id=secret_id, live_code=code)
    return {"LiveCode": code}


def liveness_recognition(request, params, secret_id):
    check_identity(params["IdCard"], params["Name"])
    return liveness(request, params, secret_id, action="LivenessRecognition")


def liveness_compare(request, params, secret_id):
    if "ImageBase64" in params:
        read_image(params["ImageBase64"], "ImageBase64")
    elif "ImageUrl" in params:
        fetch(params["ImageUrl"], "ImageUrl", MAX_IMAGE_BASE64 * 3 // 4)
    else:
        raise Refusal("MissingParameter", "ImageBase64 or ImageUrl is required")
    return liveness(request, params, secret_id, action="LivenessCompare")


def liveness(request, params, secret_id, *, action):
    kind = params["LivenessType"]
    if kind not in ("LIP", "ACTION", "SILENT"):
        raise Refusal("InvalidParameterValue", "LivenessType is LIP, ACTION or SILENT (upper case)")
    if kind == "ACTION":
        raise Refusal("UnsupportedOperation", "ACTION (GetActionSequence) is not emulated by the sandbox")
    validate = params.get("ValidateData", "")
    code = None
    if kind == "LIP":
        code = find_live_code(validate, secret_id)
    elif validate:
        raise Refusal("InvalidParameterValue", "ValidateData must be empty for SILENT")
    frames = read_optional(params.get("Optional"))
    video = read_video(params)
    result, sim, best = video_verdict(video, lip=kind == "LIP")
    if result == "Success" and action == "LivenessRecognition":
        result, sim = identity_lip_verdict(params["IdCard"], params["Name"])
    if result == "Success" and action == "LivenessCompare":
        sim = PASS_SIM
    steer = steered(VENDOR, action)
    if steer:
        result, sim = steer["Result"], steer.get("Sim", PASS_SIM if steer["Result"] == "Success" else 0)
    if code is not None:
        # Conditional, so two concurrent calls cannot both use one code.
        if not FaceIdLiveCode.objects.filter(pk=code.pk, used_at__isnull=True).update(used_at=timezone.now()):
            raise Refusal("InvalidParameterValue", "ValidateData was already used; call GetLiveCode again")
    frame = base64.b64encode(best).decode() if best else None
    return {"Result": result, "Description": RESULTS.get(result, result), "Sim": sim,
            "BestFrameBase64": frame, "BestFrameList": [frame] * frames if frame and frames else []}


def find_live_code(value, secret_id):
    if not re.fullmatch(r"[0-9]{4}", value or ""):
        raise Refusal("InvalidParameterValue", "ValidateData must be the digits GetLiveCode returned")
    issued = FaceIdLiveCode.objects.filter(secret_id=secret_id, live_code=value)
    fresh = issued.filter(created_at__gt=timezone.now() - timedelta(seconds=live_code_ttl_seconds()))
    code = fresh.filter(used_at__isnull=True).order_by("created_at", "id").first()
    if code is not None:
        return code
    if fresh.exists():
        raise Refusal("InvalidParameterValue", "ValidateData was already used; call GetLiveCode again")
    if issued.exists():
        raise Refusal("InvalidParameterValue", "ValidateData expired; call GetLiveCode again")
    raise Refusal("InvalidParameterValue", "ValidateData was not issued by GetLiveCode to this SecretId")


def read_optional(optional):
    if optional is None:
        return 0
    try:
        document = json.loads(optional)
    except ValueError:
        raise Refusal("InvalidParameterValue", "Optional must be a JSON string") from None
    if not isinstance(document, dict) or set(document) - {"BestFrameNum"}:
        raise Refusal("InvalidParameterValue", 'Optional is {"BestFrameNum": n}')
    number = document.get("BestFrameNum", 0)
    if not isinstance(number, int) or isinstance(number, bool) or not 2 <= number <= 10:
        raise Refusal("InvalidParameterValue", "BestFrameNum is 2 to 10")
    return number


def strict_b64(text, name, limit):
    if len(text) > limit:
        raise Refusal("InvalidParameterValue", f"{name} is {len(text)} characters; at most {limit} is accepted")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise Refusal("InvalidParameterValue", f"{name} is not standard base64 with padding (RFC 4648)") from None


def read_image(text, name):
    data = strict_b64(text, name, MAX_IMAGE_BASE64)
    try:
        media.probe_image(data)
    except media.MediaError as problem:
        raise Refusal("InvalidParameterValue", f"{name}: {problem.detail} (jpg or png)") from None
    return data


def fetch(url, name, max_bytes):
    try:
        return media.download(url, max_bytes=max_bytes, timeout=4)
    except media.DownloadError as problem:
        raise Refusal("FailedOperation.DownLoadError", f"{name} could not be downloaded ({problem.detail})") from None


def read_video(params):
    if "VideoBase64" in params:
        return strict_b64(params["VideoBase64"], "VideoBase64", MAX_VIDEO_BASE64)
    if "VideoUrl" in params:
        return fetch(params["VideoUrl"], "VideoUrl", MAX_VIDEO_BASE64 * 3 // 4)
    raise Refusal("MissingParameter", "VideoBase64 or VideoUrl is required")


def video_verdict(data, *, lip):
    """(Result, Sim, best frame) the video itself earns."""
    try:
        facts = media.probe_video(data, snapshots=1)
    except media.MediaError:
        return "FailedOperation.LipVideoInvalid", 0, None
    best = facts.snapshots[0] if facts.snapshots else None
    if facts.container not in VIDEO_CONTAINERS:
        return "FailedOperation.LipVideoInvalid", 0, None
    if facts.duration < MIN_SECONDS:
        return "FailedOperation.SilentTooShort", 0, None
    if facts.short_side < MIN_SHORT_SIDE or facts.long_side < MIN_LONG_SIDE:
        return "FailedOperation.LipVideoQuaility", 0, None
    if lip and not facts.has_audio:
        return "FailedOperation.LipVoiceDetect", 0, best
    if lip and facts.audio_rms_dbfs < MIN_AUDIO_RMS_DBFS:
        return "FailedOperation.LipVoiceLow", 0, best
    if facts.motion < STILL_MOTION:
        return "FailedOperation.LivessDetectFake", 0, best
    return "Success", PASS_SIM, best


def identity_lip_verdict(id_card, name):
    if name == NAME_MISMATCH:
        return "FailedOperation.IdNameMisMatch", 0
    if id_card == UNKNOWN_ID:
        return "FailedOperation.IdNoExistSystem", 0
    if name == LOW_SIMILARITY_NAME:
        return "FailedOperation.CompareLowSimilarity", 35.0
    return "Success", PASS_SIM


HANDLERS = {
    "DetectAuth": detect_auth,
    "GetDetectInfoEnhanced": get_detect_info,
    "GetLiveCode": get_live_code,
    "LivenessRecognition": liveness_recognition,
    "LivenessCompare": liveness_compare,
}


# --- Steering ---------------------------------------------------------------------------


def parse_steer(form, endpoint):
    result = form.get("Result", "").strip()
    if result not in RESULTS:
        raise SteerError(f"Result must be one of {', '.join(RESULTS)}")
    answer = {"Result": result}
    if form.get("Sim", "").strip():
        try:
            answer["Sim"] = round(float(form["Sim"]), 2)
        except ValueError:
            raise SteerError("Sim must be a number") from None
        if not 0 <= answer["Sim"] <= 100:
            raise SteerError("Sim must be between 0 and 100")
    return answer


def steer_page_context():
    return {
        "vendor": "Tencent Cloud FaceID",
        "action": reverse("sandbox:faceid-steer"),
        "fields": ("Result", "Sim"),
        "identities": [
            ("ID number", EXAMPLE_ID, "passes (any other valid number and name too), Sim 92.5"),
            ("name", NAME_MISMATCH, "FailedOperation.IdNameMisMatch / ErrCode 2006"),
            ("name", LOW_SIMILARITY_NAME, "FailedOperation.CompareLowSimilarity, Sim 35 / ErrCode 2016"),
            ("ID number", UNKNOWN_ID, "FailedOperation.IdNoExistSystem"),
        ],
        "codes": sorted(RESULTS.items()),
    }


steer = steer_page(vendor=VENDOR, endpoints=("LivenessRecognition", "LivenessCompare"), parse=parse_steer,
                   page_context=steer_page_context)
