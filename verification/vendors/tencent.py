"""Tencent Cloud legacy face verification (人脸核身), vendor-docs file 002.

`livegetfour` hands out a 4-digit lip code; the person reads it aloud on
camera; `livedetectfour` (optionally against a reference photo) or
`idcardlivedetectfour` (against the ID photo of a name + ID number) judges
the video. `idcardcompare` compares one photo with an ID, `livedetectpicture`
scores a still photo. Every request carries the multi-use signature.

The document says nothing about billing; the portal counts a call as billed
when the service processed it (`code` 0).
"""

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .base import VendorRejected, VendorResponseError, code_lookup
from .transport import vendor_call

VENDOR = "tencent"
DISPLAY_NAME = "腾讯云 Tencent Cloud"
SIGNATURE_LIFETIME_SECONDS = 300
# "建议视频的大小为3MB 以下", taken as a hard limit (decimal megabytes, the
# stricter reading).
VIDEO_MAX_BYTES = 3_000_000
PHOTO_MAX_BYTES = 6_000_000


@dataclass(frozen=True)
class Code:
    meaning: str  # the document's words, for staff
    message: str  # what the person is told
    user_fixable: bool = False  # a better recording may pass
    permanent: bool = False  # a system code retrying cannot cure


SERVICE_DOWN = _("The verification service is unavailable right now. Please try again later.")
MISCONFIGURED = _("The verification service is not set up correctly. Please contact support.")
RECORD_AGAIN = _("We could not check this recording. Please record again in good light, face the camera.")

CODES = {
    0: Code("成功", _("The check went through.")),
    3: Code("错误的请求(账号欠费停服等)", MISCONFIGURED, permanent=True),
    4: Code("签名为空", MISCONFIGURED, permanent=True),
    5: Code("签名串错误", MISCONFIGURED, permanent=True),
    6: Code("签名中的 APPID/Bucket 与操作目标不匹配", MISCONFIGURED, permanent=True),
    9: Code("签名过期", SERVICE_DOWN),
    10: Code("APPID 不存在", MISCONFIGURED, permanent=True),
    11: Code("SecretId 不存在", MISCONFIGURED, permanent=True),
    12: Code("APPID 和 SecretId 不匹配", MISCONFIGURED, permanent=True),
    13: Code("重放攻击", SERVICE_DOWN),
    14: Code("签名校验失败", MISCONFIGURED, permanent=True),
    15: Code("操作太频繁，触发频控", _("The verification service is busy. Please try again in a moment.")),
    16: Code("Bucket 不存在", MISCONFIGURED, permanent=True),
    21: Code("无效参数", MISCONFIGURED, permanent=True),
    23: Code("请求包体过大", _("The recording is too large. Record for about 6 seconds."), user_fixable=True),
    24: Code("无权限，未申请服务", MISCONFIGURED, permanent=True),
    107: Code("鉴权服务不可用", SERVICE_DOWN),
    108: Code("鉴权服务不可用", SERVICE_DOWN),
    213: Code("内部错误", SERVICE_DOWN),
    -4006: Code("视频中自拍照特征提取失败", RECORD_AGAIN, user_fixable=True),
    -4007: Code("视频中自拍照之间对比失败", RECORD_AGAIN, user_fixable=True),
    -4009: Code("Card 照片提取特征失败", _("The reference photo cannot be used. Please contact the service that sent you here.")),
    -4010: Code("自拍照与 Card 照片相似度计算失败", RECORD_AGAIN, user_fixable=True),
    -4011: Code("照片解码失败", _("The photo could not be read. Please take it again."), user_fixable=True),
    -4012: Code("照片人脸检测失败", _("No face was found in the photo. Take it again, facing the camera."), user_fixable=True),
    -4015: Code("自拍照人脸检测失败", _("No face was found. Face the camera in good light and try again."), user_fixable=True),
    -4016: Code("自拍照解码失败", RECORD_AGAIN, user_fixable=True),
    -4017: Code("Card 照片人脸检测失败", _("The reference photo shows no face. Please contact the service that sent you here.")),
    -4018: Code("Card 照片解码失败", _("The reference photo cannot be read. Please contact the service that sent you here.")),
    -5001: Code("视频无效，上传文件不符合视频要求", _("The video could not be used. Please record it again."), user_fixable=True),
    -5002: Code("唇语失败", _("We could not read the numbers from your lips. Read them slowly and clearly, facing the camera."), user_fixable=True),
    -5005: Code("自拍照解析照片不足，视频里检测到的人脸较少", _("Your face was not visible long enough. Keep your whole face in the frame."), user_fixable=True),
    -5007: Code("视频没有声音", _("The video has no sound. Allow the microphone and read the numbers aloud."), user_fixable=True),
    -5008: Code("语音识别失败，视频里的人读错数字", _("The numbers you read did not match. Read the four numbers shown, slowly."), user_fixable=True),
    -5009: Code("视频人脸检测失败，没有嘴或者脸", _("No face was found. Keep your whole face, mouth included, in the frame."), user_fixable=True),
    -5010: Code("唇动检测失败，嘴巴未张开或者张开幅度小", _("We could not see your lips move. Open your mouth clearly as you read."), user_fixable=True),
    -5011: Code("活体检测失败(其他错误)", _("The liveness check did not pass. Please try again in good light."), user_fixable=True),
    -5012: Code("视频中噪声太大", _("There is too much noise. Find a quieter place and try again."), user_fixable=True),
    -5013: Code("视频里的声音太小", _("We could not hear you. Read the numbers aloud, a little louder."), user_fixable=True),
    -5014: Code("活体检测 level 参数无效", MISCONFIGURED, permanent=True),
    -5015: Code("视频像素太低，最小 270*480", _("The video resolution is too low. Use the front camera at normal quality."), user_fixable=True),
    -5016: Code("视频里的人不是活体（翻拍等攻击）", _("The liveness check did not pass. Record yourself live, not a screen or a photo.")),
    -5801: Code("请求缺少身份证号码或身份证姓名", MISCONFIGURED, permanent=True),
    -5802: Code("服务器内部错误，服务暂时不可用", SERVICE_DOWN),
    -5803: Code("身份证姓名与身份证号码不一致", _("The name and ID number do not match. Please contact the service that sent you here.")),
    -5804: Code("身份证号码无效", _("This ID number cannot be checked. Please contact the service that sent you here.")),
    -5805: Code("用户未输入图像或者 url 下载失败", _("The photo could not be read. Please take it again."), user_fixable=True),
    -5806: Code("身份证号码或者身份证姓名格式错误", _("The name or ID number is not in a valid form. Please contact the service that sent you here.")),
    -5807: Code("查询身份证信息错误", SERVICE_DOWN),
    -5809: Code("用户身份证登记照无效", _("The photo on record for this ID cannot be used; the police station that issued the ID can renew it.")),
    -5817: Code("证件照质量较差", _("The photo on record for this ID is of poor quality; please check with the police station where your household is registered.")),
}
UNKNOWN_CODE = Code("未知错误码", _("The verification service gave an unexpected answer. Please try again."))


describe = code_lookup(CODES, UNKNOWN_CODE)
SUCCESS_CODES = frozenset({"0"})
# Busy or down right now (nothing billed): another vendor may take the person.
UNAVAILABLE_CODES = frozenset({15, 107, 108, 213, -5802, -5807})


def is_verdict_code(code) -> bool:
    """Negative codes judge the face or the video (a verdict on the person);
    positive ones the service."""
    return isinstance(code, int) and code < 0 and not describe(code).permanent


def sign(*, app_id: str, bucket: str, secret_id: str, secret_key: str, now: int, expires: int, rand: int) -> str:
    """The multi-use signature: base64(HMAC-SHA1(SecretKey, original) + original)."""
    original = f"a={app_id}&b={bucket}&k={secret_id}&e={expires}&t={now}&r={rand}&f="
    digest = hmac.new(secret_key.encode(), original.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest + original.encode()).decode()


@dataclass(frozen=True)
class Verdict:
    """A detection answer read in the documented order: code, live_status,
    compare_status, then sim against the threshold."""

    passed: bool
    reason: str  # passed | not_live | face_mismatch | identity_mismatch | vendor_code
    vendor_code: int
    retryable: bool
    scores: dict = field(default_factory=dict)
    photo: bytes | None = None

    @property
    def message(self):
        return describe(self.vendor_code).message if self.vendor_code else ""


IDENTITY_CODES = frozenset({-5803, -5804, -5806, -5809, -5817})
# A detection answered with code 0 carries its verdict in per-field statuses,
# read in this order (the document's): the first that is not 0 decides.
FIELD_STATUSES = ("live_status", "compare_status")


def field_status(data: dict) -> int | None:
    """The first non-zero per-field status of a code-0 answer's data (a
    code of the same table: −5008, −5803 …), or None when every one is 0
    or absent."""
    for name in FIELD_STATUSES:
        try:
            value = _int(data[name])
        except (KeyError, ValueError):
            continue
        if value != 0:
            return value
    return None


def decide(data: dict, *, compared: bool, threshold: int, photo_field: str = "photo") -> Verdict:
    live_status = _int(data.get("live_status"))
    scores = {"live_status": live_status}
    if live_status != 0:
        return Verdict(False, "not_live", live_status, retryable=live_status not in IDENTITY_CODES, scores=scores)
    if not compared:
        return Verdict(True, "passed", 0, retryable=False, scores=scores)
    compare_status = _int(data.get("compare_status"))
    scores["compare_status"] = compare_status
    if compare_status != 0:
        reason = "identity_mismatch" if compare_status in IDENTITY_CODES else "face_mismatch"
        return Verdict(False, reason, compare_status, retryable=compare_status not in IDENTITY_CODES, scores=scores)
    sim = _int(data.get("sim"))
    scores.update({"sim": sim, "sim_threshold": threshold})
    photo = _b64(data.get(photo_field))
    if sim < threshold:
        return Verdict(False, "face_mismatch", 0, retryable=True, scores=scores, photo=photo)
    return Verdict(True, "passed", 0, retryable=False, scores=scores, photo=photo)


def _image_part(name: str, content: bytes) -> tuple[str, bytes, str]:
    if content.startswith(b"\xff\xd8"):
        return f"{name}.jpg", content, "image/jpeg"
    return f"{name}.png", content, "image/png"


def _int(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"not a number: {value!r}")
    return int(float(value))


def _b64(value) -> bytes | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        return None


@dataclass(frozen=True)
class IdcardComparison:
    similarity: float
    threshold: float

    @property
    def passed(self) -> bool:
        return self.similarity >= self.threshold


@dataclass(frozen=True)
class PictureLiveness:
    score: int
    threshold: int

    @property
    def passed(self) -> bool:
        return self.score >= self.threshold


class TencentClient:
    def __init__(self, *, base_url, app_id, secret_id, secret_key, bucket="", timeout, recorder=None):
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.bucket = bucket
        self.timeout = timeout
        self.recorder = recorder  # takes each call's record (transport.Recorder)

    @classmethod
    def from_settings(cls, *, recorder=None) -> "TencentClient":
        return cls(
            base_url=settings.TENCENT_BASE_URL,
            app_id=settings.TENCENT_APP_ID,
            secret_id=settings.TENCENT_SECRET_ID,
            secret_key=settings.TENCENT_SECRET_KEY,
            bucket=settings.TENCENT_BUCKET,
            timeout=settings.VENDOR_TIMEOUT_SECONDS,
            recorder=recorder,
        )

    def authorization(self) -> str:
        now = int(time.time())
        return sign(
            app_id=self.app_id, bucket=self.bucket, secret_id=self.secret_id, secret_key=self.secret_key,
            now=now, expires=now + SIGNATURE_LIFETIME_SECONDS, rand=secrets.randbelow(10**10),
        )

    def get_lip_code(self, *, seq: str = "") -> str:
        """`livegetfour`: the four digits the person reads aloud."""
        body = {"appid": self.app_id, **({"seq": seq} if seq else {})}
        data = self._call("livegetfour", json=body, summary=body)
        code = data.get("validate_data")
        if not isinstance(code, str) or not code:
            raise self._malformed("livegetfour", "no data.validate_data")
        return code

    def detect_lip_video(self, *, validate_data: str, video: Path, card: bytes | None = None, seq: str = "") -> Verdict:
        """`livedetectfour`: liveness, and with a reference photo the comparison."""
        fields = {"appid": self.app_id, "validate_data": validate_data, "compare_flag": "true" if card else "false"}
        if seq:
            fields["seq"] = seq
        files = {"video": ("video.mp4", video.read_bytes(), "video/mp4")}
        if card:
            files["card"] = _image_part("card", card)
        data = self._call("livedetectfour", data=fields, files=files, summary={**fields, **files})
        return self._decided("livedetectfour", data, compared=bool(card), photo_field="photo")

    def detect_idcard_lip_video(
        self, *, validate_data: str, video: Path, idcard_number: str, idcard_name: str, seq: str = ""
    ) -> Verdict:
        """`idcardlivedetectfour`: liveness and comparison with the ID photo."""
        fields = {
            "appid": self.app_id, "validate_data": validate_data,
            "idcard_number": idcard_number, "idcard_name": idcard_name,
        }
        if seq:
            fields["seq"] = seq
        files = {"video": ("video.mp4", video.read_bytes(), "video/mp4")}
        data = self._call("idcardlivedetectfour", data=fields, files=files, summary={**fields, **files})
        return self._decided("idcardlivedetectfour", data, compared=True, photo_field="video_photo")

    def compare_idcard(self, *, idcard_number: str, idcard_name: str, image_url: str) -> IdcardComparison:
        """`idcardcompare` with a photo URL (JSON form of the request)."""
        body = {"appid": self.app_id, "idcard_number": idcard_number, "idcard_name": idcard_name, "url": image_url}
        return self._comparison(self._call("idcardcompare", json=body, summary=body))

    def _comparison(self, data: dict) -> IdcardComparison:
        try:
            similarity = float(data["similarity"])
        except (KeyError, TypeError, ValueError):
            raise self._malformed("idcardcompare", "no data.similarity") from None
        return IdcardComparison(similarity=similarity, threshold=settings.TENCENT_IDCARD_SIMILARITY_THRESHOLD)

    def compare_idcard_image(self, *, idcard_number: str, idcard_name: str, image: bytes) -> IdcardComparison:
        """`idcardcompare` with the photo itself (multipart form of the request)."""
        fields = {"appid": self.app_id, "idcard_number": idcard_number, "idcard_name": idcard_name}
        files = {"image": _image_part("photo", image)}
        return self._comparison(self._call("idcardcompare", data=fields, files=files, summary={**fields, **files}))

    def detect_picture(self, *, image: bytes) -> PictureLiveness:
        """`livedetectpicture` on one photo (multipart `image`)."""
        fields = {"appid": self.app_id}
        files = {"image": _image_part("photo", image)}
        data = self._call("livedetectpicture", data=fields, files=files, summary={**fields, **files})
        try:
            score = _int(data["score"])
        except (KeyError, ValueError):
            raise self._malformed("livedetectpicture", "no data.score") from None
        return PictureLiveness(score=score, threshold=settings.TENCENT_PHOTO_SCORE_THRESHOLD)

    # --- protocol -----------------------------------------------------------

    def _call(self, endpoint: str, *, summary: dict, **request) -> dict:
        """One signed POST; the `data` object of a code-0 answer, or an error."""
        summary = {k: (v[1] if isinstance(v, tuple) else v) for k, v in summary.items()}
        with vendor_call(vendor=VENDOR, endpoint=endpoint, recorder=self.recorder, request_summary=summary) as call:
            response = call.send(
                "POST", f"{self.base_url}/face/{endpoint}", timeout=self.timeout,
                headers={"Authorization": self.authorization()}, **request,
            )
            if response.status_code >= 500:
                raise VendorResponseError(
                    f"HTTP {response.status_code}", vendor=VENDOR, endpoint=endpoint, http_status=response.status_code
                )
            body = call.parse_json(response)
            code = body.get("code")
            call.record.vendor_code = str(code)
            call.record.billed = code == 0
            if code != 0:
                known = describe(code)
                raise VendorRejected(
                    f"{endpoint} answered {code}: {str(body.get('message', ''))[:120]}",
                    vendor=VENDOR, endpoint=endpoint, code=code, http_status=response.status_code,
                    permanent=known.permanent, billed=False,
                )
            data = body.get("data")
            if not isinstance(data, dict):
                raise self._malformed(endpoint, "no data object")
            decided_by = field_status(data)
            if decided_by is not None:
                # The call's row shows (and the dashboard counts) what judged
                # the person, not the 0 that only says the call went through.
                call.record.vendor_code = str(decided_by)
            return data

    def _decided(self, endpoint: str, data: dict, *, compared: bool, photo_field: str) -> Verdict:
        try:
            return decide(data, compared=compared, threshold=settings.TENCENT_SIM_THRESHOLD, photo_field=photo_field)
        except ValueError as problem:
            raise self._malformed(endpoint, str(problem)) from None

    def _malformed(self, endpoint: str, problem: str) -> VendorResponseError:
        return VendorResponseError(f"{endpoint}: {problem}", vendor=VENDOR, endpoint=endpoint, billed=True)
