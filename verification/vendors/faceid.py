"""Tencent Cloud FaceID (人脸核身, API 3.0, version 2018-03-01), shared
vendor-docs `tencent-faceid-v3.md`.

Pure protocol over Tencent's official SDK (`tencentcloud-sdk-python-faceid`
with `-common`): the SDK builds each request, signs it (TC3-HMAC-SHA256) and
reads the answer into its models; only the sending is ours, so every call
goes through `transport.vendor_call` (its timeout, the breaker, the call's
record) like every other vendor's. The SDK's own HTTP layer, retries and
region breaker are never used.

Actions: `DetectAuth` → Tencent's H5 page → `GetDetectInfoEnhanced`
(`faceid_h5`); `GetLiveCode` → our recording → `LivenessRecognition` (LIP,
against the ID photo of a name + ID number) or `LivenessCompare` (against a
reference photo) (`faceid_lip`).

Errors come back with HTTP 200 as `{"Response": {"Error": {Code, Message},
RequestId}}`. The SDK raises them only when the answer's Content-Type is
exactly `application/json`; this client reads the envelope itself too, so
an error is never taken for an answer full of nulls (digest §3).
"""

import base64
import binascii
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.faceid.v20180301 import faceid_client, models

from .base import VendorError, VendorRejected, VendorResponseError, redact
from .transport import vendor_call

# The SDK logs whole requests and answers (names, ID numbers, videos) at
# DEBUG under its own logger: silenced for good; our transport logs the call.
_sdk_logger = logging.getLogger("tencentcloud_sdk_common")
_sdk_logger.handlers = [logging.NullHandler()]
_sdk_logger.propagate = False
_sdk_logger.setLevel(logging.CRITICAL + 1)

VENDOR = "faceid"
DISPLAY_NAME = "腾讯云人脸核身 Tencent Cloud FaceID"
API_VERSION = "2018-03-01"
# A BizToken is good for one check for 7,200 s (DetectAuth, doc 31816).
BIZ_TOKEN_TTL_SECONDS = 7200
# VideoBase64 "≤ 8 MB after base64" (decimal, the stricter reading): the raw
# video at most 3/4 of it. The JSON body (≤ 10 MB) then has room for the rest.
VIDEO_MAX_BYTES = 6_000_000
# ImageBase64 ≤ 3 MB after base64.
PHOTO_MAX_BYTES = 2_250_000
LIVENESS_TYPE_LIP = "LIP"
# GetDetectInfoEnhanced InfoType: 1 text, 3 best frames, 4 video.
INFO_TYPE = "134"


@dataclass(frozen=True)
class Code:
    meaning: str  # the documents' words, for staff
    message: str  # what the person is told (translated)
    reason: str  # the portal's normalised reason
    user_fixable: bool = False  # another attempt may pass
    permanent: bool = False  # a set-up problem retrying cannot cure
    billed: bool = False


SERVICE_DOWN = _("The verification service is unavailable right now. Please try again later.")
MISCONFIGURED = _("The verification service is not set up correctly. Please contact support.")
RECORD_AGAIN = _("We could not check this recording. Please record again in good light, facing the camera.")
NOT_LIVE = _("The liveness check did not pass. Record yourself live, not a screen or a photo.")
FACE_MISMATCH = _("Your face does not match the photo on record.")
IDENTITY_MISMATCH = _("The name and ID number do not match. Please contact the service that sent you here.")
IDENTITY_UNKNOWN = _("This ID number cannot be checked. Please contact the service that sent you here.")
LIP_MISREAD = _("We could not recognise the numbers you read. Read the four numbers slowly and clearly.")
SPEAK_UP = _("We could not hear you. Read the numbers aloud, a little louder.")
NOT_FINISHED = _("The check on Tencent's page was not finished.")

# GetDetectInfoEnhanced `Text.ErrCode` (and Livestatus/Comparestatus), the
# H5 return-code tables 1007/31082 and 213/32309 (digest §5.3).
H5_CODES = {
    0: Code("成功", "", "passed", billed=True),
    1: Code("调用方式错误，参见 DetectAuth", MISCONFIGURED, "vendor_rejected", permanent=True),
    2: Code("调用方式错误，参见 DetectAuth", MISCONFIGURED, "vendor_rejected", permanent=True),
    3: Code("调用方式错误，参见 DetectAuth", MISCONFIGURED, "vendor_rejected", permanent=True),
    4: Code("服务错误", SERVICE_DOWN, "vendor_rejected"),
    8: Code("服务错误", SERVICE_DOWN, "vendor_rejected"),
    10: Code("服务错误", SERVICE_DOWN, "vendor_rejected"),
    12: Code("服务错误", SERVICE_DOWN, "vendor_rejected"),
    13: Code("服务错误", SERVICE_DOWN, "vendor_rejected"),
    14: Code("本次核验已完成", SERVICE_DOWN, "vendor_rejected"),
    15: Code("token 已过期", _("The check took too long and expired. Please start again."), "token_expired",
             user_fixable=True),
    16: Code("重试次数已达上限", _("Too many tries on Tencent's page. Please start again."), "not_live",
             user_fixable=True),
    17: Code("本次流程未完成", NOT_FINISHED, "not_finished", user_fixable=True),
    1001: Code("活体引擎超时", SERVICE_DOWN, "vendor_rejected"),
    1002: Code("疑似非真人录制", NOT_LIVE, "not_live", billed=True),
    1003: Code("人脸验证失败", RECORD_AGAIN, "poor_recording", user_fixable=True),
    1004: Code("人脸验证失败", RECORD_AGAIN, "poor_recording", user_fixable=True),
    1005: Code("网络不稳定", RECORD_AGAIN, "poor_recording", user_fixable=True),
    1006: Code("人脸验证失败", RECORD_AGAIN, "poor_recording", user_fixable=True),
    1007: Code("人脸验证失败", RECORD_AGAIN, "poor_recording", user_fixable=True),
    1008: Code("网络不稳定", RECORD_AGAIN, "poor_recording", user_fixable=True),
    1101: Code("声音未能识别，请放慢语速，大声读数字", LIP_MISREAD, "lip_code_mismatch", user_fixable=True),
    1102: Code("人脸未完整露出", RECORD_AGAIN, "poor_recording", user_fixable=True),
    1103: Code("声音未能识别，请放慢语速，大声读数字", LIP_MISREAD, "lip_code_mismatch", user_fixable=True),
    1104: Code("视频格式有误", RECORD_AGAIN, "poor_recording", user_fixable=True),
    1106: Code("声音太小", SPEAK_UP, "poor_recording", user_fixable=True),
    1107: Code("视频为空或大小不合适，请录制6秒左右", RECORD_AGAIN, "poor_recording", user_fixable=True),
    1108: Code("视频分辨率太低", RECORD_AGAIN, "poor_recording", user_fixable=True),
    1109: Code("未检测到唇动", _("We could not see your lips move. Open your mouth clearly as you read."),
               "poor_recording", user_fixable=True),
    2001: Code("比对引擎超时", SERVICE_DOWN, "vendor_rejected"),
    2002: Code("姓名格式错误", IDENTITY_UNKNOWN, "identity_unverifiable"),
    2003: Code("身份证号格式错误", IDENTITY_UNKNOWN, "identity_unverifiable"),
    2004: Code("无法从视频中提取人脸照片", RECORD_AGAIN, "poor_recording", user_fixable=True),
    2005: Code("身份信息不存在", IDENTITY_UNKNOWN, "identity_unverifiable"),
    2006: Code("姓名和身份证号不一致", IDENTITY_MISMATCH, "identity_mismatch", billed=True),
    2007: Code("权威库无照片", IDENTITY_UNKNOWN, "identity_unverifiable"),
    2008: Code("权威库照片质量差", IDENTITY_UNKNOWN, "identity_unverifiable"),
    2009: Code("权威库照片质量差", IDENTITY_UNKNOWN, "identity_unverifiable"),
    2010: Code("人脸未完整露出", RECORD_AGAIN, "poor_recording", user_fixable=True),
    2011: Code("无法判断是否同一人", RECORD_AGAIN, "poor_recording", user_fixable=True),
    2012: Code("无法判断是否同一人", RECORD_AGAIN, "poor_recording", user_fixable=True),
    2013: Code("无法判断是否同一人（疑似非活体）", NOT_LIVE, "not_live"),
    2014: Code("无法判断是否同一人（多张人脸）", RECORD_AGAIN, "poor_recording", user_fixable=True),
    2015: Code("无法判断是否同一人", RECORD_AGAIN, "poor_recording", user_fixable=True),
    # A poor take can fall under the threshold: another attempt may pass.
    2016: Code("比对相似度未达到通过标准（非同一人）", FACE_MISMATCH, "face_mismatch", user_fixable=True, billed=True),
}

# LivenessRecognition / LivenessCompare `Result` (or Error.Code), and the
# API errors of every action (digest §3, §6.4).
NAMED_CODES = {
    "Success": Code("成功", "", "passed", billed=True),
    "FailedOperation.LipVoiceRecognize": Code("声音识别失败（数字未识别）", LIP_MISREAD, "lip_code_mismatch",
                                              user_fixable=True),
    "FailedOperation.LipVoiceDetect": Code("未检测到声音", SPEAK_UP, "poor_recording", user_fixable=True),
    "FailedOperation.LipVoiceLow": Code("声音太小", SPEAK_UP, "poor_recording", user_fixable=True),
    "FailedOperation.LipMoveSmall": Code(
        "唇动幅度过小", _("We could not see your lips move. Open your mouth clearly as you read."),
        "poor_recording", user_fixable=True),
    "FailedOperation.LipFaceIncomplete": Code(
        "人脸未完整露出", _("Keep your whole face, mouth included, in the frame."), "poor_recording",
        user_fixable=True),
    "FailedOperation.LipSizeError": Code(
        "视频为空或大小不合适，请控制录制时长在6s左右", _("Record for about 6 seconds."), "poor_recording",
        user_fixable=True),
    "FailedOperation.LipVideoInvalid": Code("视频格式有误", RECORD_AGAIN, "poor_recording", user_fixable=True),
    "FailedOperation.LipVideoQuaility": Code("视频分辨率太低", RECORD_AGAIN, "poor_recording", user_fixable=True),
    "FailedOperation.LipNetFailed": Code("视频拉取失败", SERVICE_DOWN, "vendor_rejected"),
    "FailedOperation.SilentTooShort": Code("请录制2秒以上的视频", _("Record for about 6 seconds."),
                                           "poor_recording", user_fixable=True),
    "FailedOperation.LivessDetectFail": Code("活体检测未通过", NOT_LIVE, "not_live", user_fixable=True),
    "FailedOperation.LivessDetectFake": Code("疑似非真人", NOT_LIVE, "not_live"),
    "FailedOperation.SilentDetectFail": Code("实人检测失败", NOT_LIVE, "not_live", user_fixable=True),
    "FailedOperation.SilentThreshold": Code("疑似非真人", NOT_LIVE, "not_live"),
    "FailedOperation.LivessUnknownError": Code("活体检测未知错误", NOT_LIVE, "not_live", user_fixable=True),
    "FailedOperation.LivessBestFrameError": Code("最佳帧提取失败", RECORD_AGAIN, "poor_recording",
                                                 user_fixable=True),
    "FailedOperation.LifePhotoDetectNoFaces": Code("未检测到人脸", RECORD_AGAIN, "poor_recording",
                                                   user_fixable=True),
    "FailedOperation.LifePhotoDetectFaces": Code("检测到多张人脸", RECORD_AGAIN, "poor_recording",
                                                 user_fixable=True),
    "FailedOperation.LifePhotoDetectFake": Code("疑似非真人", NOT_LIVE, "not_live"),
    "FailedOperation.CompareLowSimilarity": Code("比对相似度未达到通过标准", FACE_MISMATCH, "face_mismatch",
                                                 user_fixable=True, billed=True),
    "FailedOperation.CompareFail": Code("比对失败", SERVICE_DOWN, "vendor_rejected"),
    "FailedOperation.CompareSystemError": Code("比对系统错误", SERVICE_DOWN, "vendor_rejected"),
    "FailedOperation.IdNameMisMatch": Code("身份证号与姓名不一致", IDENTITY_MISMATCH, "identity_mismatch",
                                           billed=True),
    "FailedOperation.IdNoExistSystem": Code("身份证号不存在于权威库", IDENTITY_UNKNOWN, "identity_unverifiable"),
    "FailedOperation.IdPhotoNoExist": Code("权威库无照片", IDENTITY_UNKNOWN, "identity_unverifiable"),
    "FailedOperation.IdPhotoPoorQuality": Code("权威库照片质量差", IDENTITY_UNKNOWN, "identity_unverifiable"),
    "FailedOperation.IdFormatError": Code("身份证号格式错误", IDENTITY_UNKNOWN, "identity_unverifiable"),
    "FailedOperation.NameFormatError": Code("姓名格式错误", IDENTITY_UNKNOWN, "identity_unverifiable"),
    "FailedOperation.LifePhotoPoorQuality": Code(
        "参考照片质量差", _("The reference photo cannot be used. Please contact the service that sent you here."),
        "vendor_rejected"),
    "FailedOperation.RequestLimitExceeded": Code("请求频率超限", SERVICE_DOWN, "vendor_rejected"),
    "FailedOperation.UnKnown": Code("未知错误", SERVICE_DOWN, "vendor_rejected"),
    "InternalError": Code("内部错误", SERVICE_DOWN, "vendor_rejected"),
    "InternalError.UnKnown": Code("内部错误", SERVICE_DOWN, "vendor_rejected"),
    "RequestLimitExceeded": Code("请求频率超限", SERVICE_DOWN, "vendor_rejected"),
    "InvalidParameterValue.BizTokenExpired": Code("BizToken 已过期", NOT_FINISHED, "token_expired",
                                                  user_fixable=True),
    "InvalidParameterValue.BizTokenIllegal": Code("BizToken 非法", MISCONFIGURED, "vendor_rejected",
                                                  permanent=True),
    "AuthFailure.SignatureExpire": Code("签名过期（时钟偏差）", SERVICE_DOWN, "vendor_rejected"),
}
for _code in (
    "AuthFailure.InvalidAuthorization", "AuthFailure.SecretIdNotFound", "AuthFailure.SignatureFailure",
    "AuthFailure.UnauthorizedOperation", "InvalidAction", "InvalidParameter", "InvalidParameterValue",
    "MissingParameter", "NoSuchVersion", "UnauthorizedOperation", "UnsupportedOperation",
    "InvalidParameterValue.RuleIdNotExist", "InvalidParameterValue.RuleIdDisabled",
    "UnauthorizedOperation.Nonactivated", "UnauthorizedOperation.Arrears", "UnauthorizedOperation.NonAuthorize",
    "UnauthorizedOperation.Activating", "UnauthorizedOperation.ActivateError",
    "UnauthorizedOperation.ChargeStatusException", "FailedOperation.DecryptSystemError",
    "FailedOperation.EncryptSystemError", "FailedOperation.StsUnAuthErrError",
    "InvalidParameter.UnsupportEncryptField",
):
    NAMED_CODES[_code] = Code(_code, MISCONFIGURED, "vendor_rejected", permanent=True)
UNKNOWN_CODE = Code("未知错误码", _("The verification service gave an unexpected answer. Please try again."),
                    "vendor_rejected")
SUCCESS_CODES = frozenset({"0", "Success"})
# Busy or down right now, nothing billed: an `auto` session may go on to
# another vendor (services/routing.py, vendors.base.may_fall_over). Each
# comes as an Error envelope, i.e. the action was refused rather than run,
# and none is a verdict (billing, 1007/47911, is on verdicts). The codes are
# strings, and may_fall_over compares codes as strings (digest §3, §6.4):
#  - "RequestLimitExceeded": the common API code for a request rate over
#    the limit (公共错误码; 100 requests/s per action, digest §1): busy.
#  - "FailedOperation.RequestLimitExceeded": FaceID's own rate limit
#    (`errorcodes.py`, listed for LivenessRecognition/Compare): busy.
#  - "InternalError": the common "internal error" of the API (公共错误码):
#    Tencent's side failed before there was any answer about the person.
#  - "InternalError.UnKnown": FaceID's own internal error (`errorcodes.py`).
# Left out on purpose: "FailedOperation.UnKnown" (an operation that failed
# for a reason not given, not a word on availability: it ends the attempt as
# before); "AuthFailure.SignatureExpire" (our clock is off: the next FaceID
# call would fail the same way, and other vendors are no cure for it); the
# comparison's "FailedOperation.CompareFail" / "CompareSystemError" (the
# video was judged, not turned away); the permanent set-up codes; and the H5
# `ErrCode` service errors (4, 8, 10, 12, 13, 1001, 2001), which arrive in
# GetDetectInfoEnhanced after the person went through Tencent's page, when
# there is no falling over any more.
UNAVAILABLE_CODES = frozenset({
    "RequestLimitExceeded", "FailedOperation.RequestLimitExceeded", "InternalError", "InternalError.UnKnown",
})
# Answers about the person (or the recording), not about the service.
VERDICT_REASONS = frozenset({
    "not_live", "lip_code_mismatch", "face_mismatch", "identity_mismatch", "identity_unverifiable", "poor_recording",
})


def describe(code) -> Code:
    """The entry for an H5 `ErrCode` (a number) or a named code."""
    if code is None or code == "":
        return UNKNOWN_CODE
    text = str(code)
    if text.lstrip("-").isdigit():
        return H5_CODES.get(int(text), UNKNOWN_CODE)
    return NAMED_CODES.get(text, UNKNOWN_CODE)


def is_verdict_code(code) -> bool:
    return describe(code).reason in VERDICT_REASONS


# --- What the calls give back ----------------------------------------------------


@dataclass(frozen=True)
class Started:
    url: str
    biz_token: str
    request_id: str


@dataclass(frozen=True)
class DetectInfo:
    """GetDetectInfoEnhanced read: `err_code` None while nothing is final."""

    err_code: int | None
    err_msg: str
    live_status: int | None
    compare_status: int | None
    sim: float | None
    idcard: str
    name: str
    best_frame: bytes | None
    video: bytes | None
    request_id: str


@dataclass(frozen=True)
class Liveness:
    """LivenessRecognition / LivenessCompare read."""

    result: str
    description: str
    sim: float | None
    best_frame: bytes | None
    request_id: str


# --- The client ----------------------------------------------------------------------


class _Sender:
    """Stands in for the SDK's `ApiRequest`: the signed request the SDK
    built goes out through the portal's transport (timeout, breaker,
    record). The answer, or the transport's error, is kept for the client."""

    def __init__(self, call, url: str, timeout):
        self.call, self.url, self.timeout = call, url, timeout
        self.response = None
        self.error: VendorError | None = None

    def send_request(self, req):
        data = req.data.encode("utf-8") if isinstance(req.data, str) else req.data
        try:
            self.response = self.call.send(req.method, self.url, data=data, headers=dict(req.header),
                                           timeout=self.timeout)
        except VendorError as error:
            self.error = error
            raise
        return self.response


class FaceIdClient:
    def __init__(self, *, base_url, secret_id, secret_key, rule_id, region="", timeout, recorder=None):
        parts = urlsplit(base_url)
        self.scheme, self.host = parts.scheme, parts.netloc
        self.secret_id, self.secret_key = secret_id, secret_key
        self.rule_id = rule_id
        self.region = region
        self.timeout = timeout
        self.recorder = recorder

    @classmethod
    def from_settings(cls, *, recorder=None) -> "FaceIdClient":
        return cls(
            base_url=settings.FACEID_BASE_URL, secret_id=settings.TENCENTCLOUD_SECRET_ID,
            secret_key=settings.TENCENTCLOUD_SECRET_KEY, rule_id=settings.FACEID_RULE_ID,
            region=settings.FACEID_REGION, timeout=settings.VENDOR_TIMEOUT_SECONDS, recorder=recorder,
        )

    # --- faceid_h5 -----------------------------------------------------------

    def detect_auth(self, *, redirect_url: str, name: str = "", idcard: str = "") -> Started:
        """DetectAuth: a BizToken and the H5 page's Url (not billed)."""
        request = models.DetectAuthRequest()
        request.RuleId = self.rule_id
        request.RedirectUrl = redirect_url
        if name and idcard:
            # "小写 x 将无法通过校验".
            request.IdCard, request.Name = idcard.upper(), name
        summary = {"RuleId": self.rule_id, "RedirectUrl": redirect_url, "idcard": idcard, "realname": name}
        body = self._call("DetectAuth", request, summary=summary)
        url, token = body.get("Url"), body.get("BizToken")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")) or not _is_text(token):
            raise self._malformed("DetectAuth", "no Url or BizToken")
        return Started(url=url, biz_token=token, request_id=str(body.get("RequestId", "")))

    def get_detect_info(self, biz_token: str) -> DetectInfo:
        """GetDetectInfoEnhanced: the verdict, the best frame and the video."""
        request = models.GetDetectInfoEnhancedRequest()
        request.BizToken, request.RuleId, request.InfoType = biz_token, self.rule_id, INFO_TYPE
        summary = {"BizToken": _short(biz_token), "RuleId": self.rule_id, "InfoType": INFO_TYPE}
        body = self._call("GetDetectInfoEnhanced", request, summary=summary,
                          billed=lambda b: describe(_dig(b, "Text", "ErrCode")).billed
                          if _dig(b, "Text", "ErrCode") is not None else False)
        text = body.get("Text") if isinstance(body.get("Text"), dict) else {}
        try:
            return DetectInfo(
                err_code=_optional_int(text.get("ErrCode")), err_msg=str(text.get("ErrMsg") or ""),
                live_status=_optional_int(text.get("LiveStatus")),
                compare_status=_optional_int(text.get("Comparestatus")),
                sim=_optional_float(text.get("Sim")),
                idcard=str(text.get("IdCard") or ""), name=str(text.get("Name") or ""),
                best_frame=_b64(_dig(body, "BestFrame", "BestFrame")),
                video=_b64(_dig(body, "VideoData", "LivenessVideo")),
                request_id=str(body.get("RequestId", "")),
            )
        except ValueError as problem:
            raise self._malformed("GetDetectInfoEnhanced", str(problem)) from None

    # --- faceid_lip ------------------------------------------------------------

    def get_live_code(self) -> str:
        """GetLiveCode: the digits the person reads aloud."""
        body = self._call("GetLiveCode", models.GetLiveCodeRequest(), summary={})
        code = body.get("LiveCode")
        if not isinstance(code, str) or not code.isdigit():
            raise self._malformed("GetLiveCode", "no LiveCode")
        return code

    def liveness_recognition(self, *, idcard: str, name: str, video: Path, live_code: str) -> Liveness:
        """LivenessRecognition, LIP: the video against the ID photo of idcard + name."""
        request = models.LivenessRecognitionRequest()
        request.IdCard, request.Name = idcard.upper(), name
        request.LivenessType, request.ValidateData = LIVENESS_TYPE_LIP, live_code
        request.VideoBase64 = _video_b64(video)
        summary = {"idcard": idcard, "realname": name, "LivenessType": LIVENESS_TYPE_LIP, "ValidateData": live_code,
                   "VideoBase64": f"<{len(request.VideoBase64)} characters>"}
        return self._liveness("LivenessRecognition", request, summary)

    def liveness_compare(self, *, image: bytes, video: Path, live_code: str) -> Liveness:
        """LivenessCompare, LIP: the video against a reference photo."""
        request = models.LivenessCompareRequest()
        request.ImageBase64 = base64.b64encode(image).decode("ascii")
        request.LivenessType, request.ValidateData = LIVENESS_TYPE_LIP, live_code
        request.VideoBase64 = _video_b64(video)
        summary = {"LivenessType": LIVENESS_TYPE_LIP, "ValidateData": live_code,
                   "ImageBase64": f"<{len(request.ImageBase64)} characters>",
                   "VideoBase64": f"<{len(request.VideoBase64)} characters>"}
        return self._liveness("LivenessCompare", request, summary)

    def _liveness(self, action, request, summary) -> Liveness:
        body = self._call(action, request, summary=summary, region=True,
                          billed=lambda b: describe(b.get("Result")).billed)
        result = body.get("Result")
        if not _is_text(result):
            raise self._malformed(action, "no Result", billed=None)
        try:
            sim = _optional_float(body.get("Sim"))
        except ValueError as problem:
            raise self._malformed(action, str(problem), billed=None) from None
        return Liveness(result=result, description=str(body.get("Description") or ""), sim=sim,
                        best_frame=_b64(body.get("BestFrameBase64")), request_id=str(body.get("RequestId", "")))

    # --- protocol ---------------------------------------------------------------

    def _sdk(self, sender: _Sender, *, region: bool) -> faceid_client.FaceidClient:
        longest = max(self.timeout) if isinstance(self.timeout, (tuple, list)) else self.timeout
        http = HttpProfile(endpoint=self.host, protocol=self.scheme, reqTimeout=longest)
        client = faceid_client.FaceidClient(
            credential.Credential(self.secret_id, self.secret_key), self.region if region else "",
            ClientProfile(httpProfile=http),  # no retryer, no region breaker: a billed call goes once
        )
        client.request = sender
        return client

    def _call(self, action: str, request, *, summary: dict, region: bool = False, billed=None) -> dict:
        """One signed call; the `Response` object of an answer without Error."""
        with vendor_call(vendor=VENDOR, endpoint=action, recorder=self.recorder, request_summary=summary) as call:
            sender = _Sender(call, f"{self.scheme}://{self.host}/", self.timeout)
            try:
                getattr(self._sdk(sender, region=region), action)(request)
            except TencentCloudSDKException as exc:
                if sender.error is not None:
                    raise sender.error from None
                body = self._response_of(call, sender.response, action, sdk_code=exc.get_code())
                raise self._rejected(action, body, http_status=sender.response.status_code) from None
            body = self._response_of(call, sender.response, action)
            if "Error" in body:  # an error the SDK let through (a Content-Type with a charset)
                raise self._rejected(action, body, http_status=sender.response.status_code)
            call.record.billed = bool(billed(body)) if billed else False
            code = body.get("Result") if "Result" in body else _dig(body, "Text", "ErrCode")
            call.record.vendor_code = "" if code is None else str(code)
            return body

    def _response_of(self, call, response, action: str, sdk_code: str = "") -> dict:
        """The answer's `Response` object, its summary kept on the record;
        VendorResponseError for anything outside the protocol."""
        status = response.status_code if response is not None else None
        try:
            document = json.loads(response.content) if response is not None else None
        except (ValueError, RecursionError):
            document = None
        body = document.get("Response") if isinstance(document, dict) else None
        if status != 200 or not isinstance(body, dict):
            raise VendorResponseError(
                f"{action}: HTTP {status} without FaceID's envelope{f' ({sdk_code})' if sdk_code else ''}",
                vendor=VENDOR, endpoint=action, http_status=status, billed=None if status == 200 else False,
            )
        call.record.response_summary = redact({"Response": summarise(body)})
        call.record.request_id = str(body.get("RequestId", ""))
        return body

    def _rejected(self, action: str, body: dict, *, http_status) -> VendorRejected:
        error = body.get("Error") if isinstance(body.get("Error"), dict) else {}
        code = str(error.get("Code") or "") or "UnknownError"
        known = describe(code)
        return VendorRejected(
            f"{action} answered {code}: {str(error.get('Message', ''))[:120]}", vendor=VENDOR, endpoint=action,
            code=code, http_status=http_status, permanent=known.permanent, billed=known.billed,
            request_id=str(body.get("RequestId", "")),
        )

    def _malformed(self, action: str, problem: str, *, billed=False) -> VendorResponseError:
        return VendorResponseError(f"{action}: {problem}", vendor=VENDOR, endpoint=action, billed=billed)


def vendor_words(response_summary) -> str:
    """FaceID's own words on a call's record: the error message, the
    Liveness* Description, or the H5 text's ErrMsg (wording Tencent may
    change without notice, so never matched on; shown to reviewers)."""
    body = response_summary.get("Response") if isinstance(response_summary, dict) else None
    if not isinstance(body, dict):
        return ""
    for words in (_dig(body, "Error", "Message"), body.get("Description"), _dig(body, "Text", "ErrMsg")):
        if _is_text(words):
            return words
    return ""


# --- helpers -----------------------------------------------------------------------

# Personal fields of an answer: their values go under the names the
# portal's redaction masks, and erasure empties (vendors.base).
_PERSONAL_KEYS = {"IdCard": "idcard", "Name": "realname"}
_DROPPED_PREFIXES = ("Ocr", "Location", "Mobile", "IdCardData", "Encrypt", "Intention")


def summarise(value):
    """An answer as its call's record keeps it, before redact(): the
    vendor's own words and codes kept, the ID and name under the names the
    redaction masks, OCR data left out (redact() shortens the blobs)."""
    if isinstance(value, dict):
        return {_PERSONAL_KEYS.get(key, key): summarise(item) for key, item in value.items()
                if not key.startswith(_DROPPED_PREFIXES)}
    if isinstance(value, list):
        return [summarise(item) for item in value]
    return value


def _video_b64(video: Path) -> str:
    return base64.b64encode(video.read_bytes()).decode("ascii")


def _short(token: str) -> str:
    return token[:6] + "…" if len(token) > 6 else token


def _is_text(value) -> bool:
    return isinstance(value, str) and bool(value)


def _dig(body, *keys):
    for key in keys:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body


def _optional_int(value) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"not a number: {value!r}")
    return int(float(value))


def _optional_float(value) -> float | None:
    """`Sim` is a string in the H5 text and in old answers, a number now."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"not a number: {value!r}")
    return float(value)


def _b64(value) -> bytes | None:
    if not _is_text(value):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
