"""Juhe (聚合数据) video liveness: `face_vedio/verify` (vendor-docs file 000)
and `videoAuth/query`, liveness plus name + ID number (file 001).

Both take the whole video base64-encoded inside a form-encoded body. The
body is written to a temporary file a chunk at a time and streamed from
there, so memory never holds more than one chunk of the video.
"""

import base64
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_plus

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .base import VendorRejected, VendorResponseError, code_lookup
from .transport import vendor_call

VENDOR = "juhe"
DISPLAY_NAME = "聚合数据 Juhe"
# "BASE64编码后的大小不超过8M" (decimal, the stricter reading) → raw bytes.
VIDEO_MAX_BASE64_CHARS = 8_000_000
VIDEO_MAX_BYTES = VIDEO_MAX_BASE64_CHARS * 3 // 4
# videoAuth advises under 10 MB; the same 8 MB budget keeps one normalised file for both.
CHUNK_BYTES = 3 * 64 * 1024  # a multiple of 3: chunks encode without padding

# rate_type → liveness threshold (document 001); the face comparison only
# runs when livingScore is above it.
RATE_TYPE_THRESHOLDS = {
    1: 0.393241, 2: 0.022403, 3: 0.649192, 4: 0.933801, 5: 0.973637, 6: 0.988479, 7: 0.994058,
}

LIVENESS_SILENT, LIVENESS_DIGITS, LIVENESS_ACTIONS = 0, 1, 2
ACTION_OPEN_MOUTH, ACTION_CLOSE_EYES = "1", "2"


@dataclass(frozen=True)
class Code:
    meaning: str
    message: str
    billed: bool = False
    user_fixable: bool = False
    permanent: bool = False


SERVICE_DOWN = _("The verification service is unavailable right now. Please try again later.")
MISCONFIGURED = _("The verification service is not set up correctly. Please contact support.")

CODES = {
    0: Code("成功", _("Liveness check passed."), billed=True),
    267509: Code("收费返回码(文档未说明含义)", _("The liveness check did not pass. Please try again."), billed=True, user_fixable=True),
    267549: Code("视频录制时间过短，请录制2秒以上的视频", _("The video is too short. Record for about 6 seconds."), user_fixable=True),
    280201: Code("网络错误", SERVICE_DOWN),
    280202: Code("videoBase64和videoUrl不可同时为空", MISCONFIGURED, permanent=True),
    280206: Code("请输入4位数字的数字验证码", MISCONFIGURED, permanent=True),
    280207: Code("请传入正确的动作顺序参数", MISCONFIGURED, permanent=True),
    280208: Code("其他错误", _("The liveness check could not be completed. Please try again."), user_fixable=True),
    280210: Code("bestFrameNum取值在2-10范围内", MISCONFIGURED, permanent=True),
    280219: Code("未能检测到完整人脸", _("Your whole face was not visible. Keep it inside the frame and try again."), user_fixable=True),
    280220: Code("未检测到张嘴动作", _("We did not see you open your mouth. Follow the prompts and try again."), user_fixable=True),
    280223: Code("解密失败", _("The video could not be read. Please record it again."), user_fixable=True),
    280224: Code("文件下载失败", SERVICE_DOWN),
    280225: Code("文件下载超时", SERVICE_DOWN),
    280229: Code("检测到多张人脸", _("More than one face was seen. Make sure you are alone in the picture."), user_fixable=True),
    280231: Code("未能检测到完整人脸", _("Your whole face was not visible. Keep it inside the frame and try again."), user_fixable=True),
    280236: Code("视频为空，或大小不合适，请控制录制时长在6s左右", _("The video size was not accepted. Record for about 6 seconds."), user_fixable=True),
    280237: Code("视频格式有误", _("The video format was not accepted. Please record it again."), user_fixable=True),
    280240: Code("视频声音太小", _("We could not hear you. Read the numbers aloud, a little louder."), user_fixable=True),
    280241: Code("声音识别失败", _("We could not make out the numbers. Read them slowly and clearly."), user_fixable=True),
    280243: Code("活体检测没通过", _("The liveness check did not pass. Face the camera in good light and try again."), user_fixable=True),
    280244: Code("疑似非真人录制", _("The liveness check did not pass. Record yourself live, not a screen or a photo.")),
    2546134: Code("视频活体检测成功，身份核验成功，图片不合法(收费)", _("Verification complete. You may close this page."), billed=True),
    2546135: Code("TOKEN过期", SERVICE_DOWN),
    10001: Code("错误的请求KEY", MISCONFIGURED, permanent=True),
    10002: Code("该KEY无请求权限", MISCONFIGURED, permanent=True),
    10003: Code("KEY过期", MISCONFIGURED, permanent=True),
    10004: Code("错误的OPENID", MISCONFIGURED, permanent=True),
    10005: Code("应用未审核超时，请提交认证", MISCONFIGURED, permanent=True),
    10007: Code("未知的请求源", MISCONFIGURED, permanent=True),
    10008: Code("被禁止的IP", MISCONFIGURED, permanent=True),
    10009: Code("被禁止的KEY", MISCONFIGURED, permanent=True),
    10011: Code("当前IP请求超过限制", _("The verification service is busy. Please try again in a moment.")),
    10012: Code("请求超过次数限制", _("The verification service has reached its usage limit. Please try again later.")),
    10013: Code("测试KEY超过请求限制", _("The verification service has reached its usage limit. Please try again later.")),
    10014: Code("系统内部异常", SERVICE_DOWN),
    10020: Code("接口维护", _("The verification service is under maintenance. Please try again in a few minutes.")),
    10021: Code("接口停用", MISCONFIGURED, permanent=True),
}
UNKNOWN_CODE = Code("未知错误码", _("The verification service gave an unexpected answer. Please try again."))
# Answers about the person or the video, as opposed to the service.
OUTCOME_CODES = frozenset(
    {267509, 267549, 280208, 280219, 280220, 280223, 280229, 280231, 280236, 280237, 280240, 280241, 280243, 280244}
)


describe = code_lookup(CODES, UNKNOWN_CODE)
SUCCESS_CODES = frozenset({"0"})
# Busy or down right now (not billed): another vendor may take the person.
UNAVAILABLE_CODES = frozenset({10011, 10012, 10013, 10014, 10020})


@dataclass(frozen=True)
class VideoVerdict:
    """`face_vedio/verify`: error_code 0 means the liveness check passed."""

    passed: bool
    vendor_code: int
    order_id: str
    retryable: bool = False
    best_frames: list[bytes] = field(default_factory=list)


@dataclass(frozen=True)
class AuthVerdict:
    """`videoAuth/query`: liveness above the rate_type threshold and a face
    comparison with the ID photo that says "same person"."""

    passed: bool
    vendor_code: int
    order_id: str
    reason: str
    retryable: bool = False
    scores: dict = field(default_factory=dict)
    picture_urls: list[str] = field(default_factory=list)


class JuheClient:
    """Both Juhe APIs; each has its own key."""

    def __init__(self, *, base_url, video_key, video_auth_key, timeout, recorder=None):
        self.base_url = base_url.rstrip("/")
        self.video_key = video_key
        self.video_auth_key = video_auth_key
        self.timeout = timeout
        self.recorder = recorder  # takes each call's record (transport.Recorder)

    @classmethod
    def from_settings(cls, *, recorder=None) -> "JuheClient":
        return cls(
            base_url=settings.JUHE_BASE_URL,
            video_key=settings.JUHE_VIDEO_KEY,
            video_auth_key=settings.JUHE_VIDEO_AUTH_KEY,
            timeout=settings.VENDOR_TIMEOUT_SECONDS,
            recorder=recorder,
        )

    def verify_video(
        self, *, video: Path, liveness_type: int, validate_data: str = "", best_frames: int = 0
    ) -> VideoVerdict:
        fields = {"key": self.video_key, "livenessType": str(liveness_type)}
        if liveness_type != LIVENESS_SILENT:
            fields["validateData"] = validate_data
        if best_frames == 1:
            fields["bestBase64"] = "1"
        elif best_frames >= 2:
            fields["bestFrameNum"] = str(best_frames)
        body = self._post("face_vedio/verify", fields, video_field="videoBase64", video=video)
        code = body["error_code"]
        result = body.get("result") if isinstance(body.get("result"), dict) else {}
        # The field table puts the frames under result.res; the sample puts
        # them straight under result. Both are read.
        frames_from = result.get("res") if isinstance(result.get("res"), dict) else result
        frames = [frames_from.get("bestBase64")] + list(frames_from.get("bestList") or [])
        return VideoVerdict(
            passed=code == 0,
            vendor_code=code,
            order_id=str(result.get("orderid", "")),
            retryable=code != 0 and describe(code).user_fixable,
            best_frames=[image for image in map(_b64_image, frames) if image],
        )

    def verify_identity_video(self, *, video: Path, realname: str, idcard: str, rate_type: int = 1) -> AuthVerdict:
        if rate_type not in RATE_TYPE_THRESHOLDS:
            raise ValueError(f"rate_type must be one of {sorted(RATE_TYPE_THRESHOLDS)}")
        fields = {"key": self.video_auth_key, "realname": realname, "idcard": idcard, "rate_type": str(rate_type)}
        body = self._post("videoAuth/query", fields, video_field="videoData", video=video, prefix="base64:")
        code = body["error_code"]
        result = body.get("result") if isinstance(body.get("result"), dict) else {}
        threshold = RATE_TYPE_THRESHOLDS[rate_type]
        living = _float(result.get("livingScore"))
        face = _float(result.get("faceScore"))
        # faceScore has no threshold in document 001 (its sample calls 0.72 "the same
        # person"): ours is JUHE_FACE_SCORE_THRESHOLD, shown beside the score.
        scores = {"living_score": living, "living_threshold": threshold, "face_score": face,
                  "face_score_threshold": settings.JUHE_FACE_SCORE_THRESHOLD,
                  "face_advise": str(result.get("faceAdvise", ""))[:100]}
        pictures = [u for u in result.get("pictures") or [] if isinstance(u, str) and u.startswith(("http://", "https://"))]
        order_id = str(result.get("orderid", ""))
        if code == 2546134:  # passed; only the pictures are unusable
            return AuthVerdict(True, code, order_id, "passed", scores=scores)
        if code != 0:
            return AuthVerdict(False, code, order_id, "vendor_code", retryable=describe(code).user_fixable, scores=scores)
        if living is None or living < threshold:
            return AuthVerdict(False, code, order_id, "not_live", retryable=True, scores=scores, picture_urls=pictures)
        if face is None or face < settings.JUHE_FACE_SCORE_THRESHOLD:
            return AuthVerdict(False, code, order_id, "face_mismatch", retryable=True, scores=scores, picture_urls=pictures)
        return AuthVerdict(True, code, order_id, "passed", scores=scores, picture_urls=pictures)

    def download_picture(self, url: str) -> bytes | None:
        """One of videoAuth's `pictures` (their URLs die after 24 hours)."""
        with vendor_call(vendor=VENDOR, endpoint="picture", recorder=self.recorder, request_summary={}) as call:
            response = call.send("GET", url, timeout=self.timeout)
            call.record.billed = False
        content = response.content
        return content if response.status_code == 200 and content[:3] == b"\xff\xd8\xff" else None

    # --- protocol -----------------------------------------------------------

    def _post(self, endpoint: str, fields: dict, *, video_field: str, video: Path, prefix: str = "") -> dict:
        size = video.stat().st_size
        encoded_chars = 4 * ((size + 2) // 3) + len(prefix)
        if encoded_chars > VIDEO_MAX_BASE64_CHARS:
            raise ValueError(f"the video base64-encodes to {encoded_chars} characters; Juhe allows {VIDEO_MAX_BASE64_CHARS}")
        summary = {**fields, video_field: f"<{encoded_chars} base64 characters>"}
        with tempfile.TemporaryFile() as body_file:
            _write_form(body_file, fields, video_field=video_field, video=video, prefix=prefix)
            body_file.seek(0)
            with vendor_call(vendor=VENDOR, endpoint=endpoint, recorder=self.recorder, request_summary=summary) as call:
                response = call.send(
                    "POST", f"{self.base_url}/{endpoint}", timeout=self.timeout, data=body_file,
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
                if response.status_code >= 400:
                    raise VendorResponseError(
                        f"HTTP {response.status_code}", vendor=VENDOR, endpoint=endpoint,
                        http_status=response.status_code,
                    )
                body = call.parse_json(response)
                code = body.get("error_code")
                if isinstance(code, str) and code.lstrip("-").isdigit():
                    code = int(code)
                if not isinstance(code, int) or isinstance(code, bool):
                    raise VendorResponseError("no error_code", vendor=VENDOR, endpoint=endpoint)
                body["error_code"] = code
                known = describe(code)
                call.record.vendor_code = str(code)
                call.record.billed = known.billed
                result = body.get("result")
                call.record.request_id = str(result.get("orderid", "")) if isinstance(result, dict) else ""
                if code not in (0, 2546134) and code not in OUTCOME_CODES:
                    raise VendorRejected(
                        f"{endpoint} answered {code}: {str(body.get('reason', ''))[:120]}",
                        vendor=VENDOR, endpoint=endpoint, code=code, permanent=known.permanent, billed=known.billed,
                        request_id=call.record.request_id,
                    )
                return body


def _write_form(out, fields: dict, *, video_field: str, video: Path, prefix: str) -> None:
    for name, value in fields.items():
        out.write(f"{quote_plus(name)}={quote_plus(value)}&".encode())
    out.write(f"{video_field}=".encode() + quote_plus(prefix).encode())
    with video.open("rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            out.write(form_escaped_base64(chunk))


def form_escaped_base64(chunk: bytes) -> bytes:
    """quote_plus(base64(chunk)), at C speed: of base64's alphabet only
    `+`, `/` and `=` need escaping in a form body. (quote_plus looks up each
    of a 6 s video's million characters in Python: some 50 ms of CPU per
    upload, a third of what copying a desktop recording costs.)"""
    return base64.b64encode(chunk).replace(b"+", b"%2B").replace(b"/", b"%2F").replace(b"=", b"%3D")


def _b64_image(value) -> bytes | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        image = base64.b64decode(value, validate=True)
    except ValueError:
        return None
    return image if image[:3] == b"\xff\xd8\xff" or image[:8] == b"\x89PNG\r\n\x1a\n" else None


def _float(value) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
