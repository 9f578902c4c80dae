"""Emulator of Tencent Cloud's legacy 人脸核身 API (recognition.image.myqcloud.com).

Written from the vendor documents alone (shared/vendor-docs 002, and the
livedetectfour page again in 003), never from the portal's client, so that a
misreading shared by both cannot pass unseen. It is deliberately strict:
whatever the documents do not clearly allow is refused, with the documented
code that fits best and a message naming the problem.

Endpoints, under <site>/sandbox/tencent (the vendor's https://recognition.image.myqcloud.com):

    POST face/livegetfour          JSON {appid, seq?}            -> data.validate_data
    POST face/livedetectfour       multipart: appid, validate_data, video,
                                   compare_flag, card?, seq?     -> live_status, live_msg[, compare_*, sim, photo]
    POST face/idcardlivedetectfour multipart: appid, validate_data, video,
                                   idcard_number, idcard_name, seq? -> … sim, video_photo
    POST face/idcardcompare        JSON {url} or multipart {image}; appid,
                                   idcard_number, idcard_name, session_id? -> data.similarity, session_id
    POST face/livedetectpicture    JSON {url} or multipart {image}; appid -> data.score

plus the sandbox-only steering page, GET/POST steer (see "Steering" below).
Every answer is HTTP 200 with the outcome in `code` (the documents only ever
show "HTTP/1.1 200 OK"), except a wrong method (HTTP 405) and an unknown path
(HTTP 404), both with a code-3 body. Success is {"data": {...}, "code": 0,
"message": "OK"}; a refusal is {"code": <code>, "message": <the document's
meaning>: <what was wrong>} with no `data`, so a client must read `code` first.

Accounts (credentials.py): appid 1250000000, SecretId/SecretKey as there,
bucket "" (empty). A second account, appid 1250000001 / SecretId
AKIDsandboxTencentNoFaceService00000 / SecretKey
sandboxTencentNoFaceSecretKey000, exists only so that code 12 (SecretId of
another appid) and code 24 (service not enabled: every call of that account
answers 24) can be reached.

Signature (鉴权签名), checked in this order:
    empty or missing Authorization                                   -> 4
    not standard base64 (urlsafe alphabet, missing padding, spaces),
    20 bytes or fewer, original not ASCII, fields not exactly
    a,b,k,e,t,r[,f] in that order (f, the fileid, "为可选参数", may be left
    out; b must be present, even empty), e/t not plain decimal,
    r not an unsigned integer of 1-10 digits                         -> 5
    a unknown                                                        -> 10
    k unknown                                                        -> 11
    k belongs to another appid                                       -> 12
    HMAC-SHA1(SecretKey, original) differs (compared in constant time) -> 14
    e <= t (this includes e = 0, a single-use signature: 人脸核身 takes
    multi-use signatures only), t more than SANDBOX_CLOCK_SKEW_SECONDS
    (300) in the future, e more than 90 days after t ("最长可设置三个月") -> 5
    e <= now                                                         -> 9
  then, once the body is read:
    the body's `appid` differs from a, a `bucket` field (the qcloud-image SDK
    sends one) differs from b, or f is not empty (there is no stored file
    for it to name)                                                  -> 6
    b is not a bucket of the account (only "" exists)                -> 16
    the account has no face service                                  -> 24
Code 13 (replay) is never produced on its own: a multi-use signature may be
used again until it expires. It can be steered.

Requests:
  * Content-Type: livegetfour takes application/json only; the two video
    endpoints multipart/form-data only ("仅支持上传本地视频文件"); idcardcompare
    and livedetectpicture either. Anything else, a JSON body that is not an
    object, or a multipart body that does not parse -> 3 (错误的请求).
  * Multipart text fields are read whether they come as plain fields or as
    file parts (qcloud-image sends every field as a file part with a file
    name). Binary fields (video, card, image) must be file parts and hold raw
    bytes: idcardcompare's header table says "image … 其值为图片的 base64",
    but its parameter table says Binary, livedetectpicture says "二进制内容"
    and the SDK sends raw bytes, so base64 text is not a picture (-4011).
  * A parameter given twice, a JSON value that is not a string, a missing
    appid, a missing or malformed validate_data, compare_flag other than the
    exact strings "true"/"false", a missing video -> 21. Unknown parameters
    are ignored (the SDK sends `bucket`, which no document lists).
  * Body over 6 MB (6 x 1024 x 1024 bytes, from Content-Length) -> 23 before
    anything else; the video part over 3 MB ("建议…3MB 以下", treated as a
    limit so the portal's compliance is checked) -> 23.
  * validate_data must be 4 digits that livegetfour gave the same appid
    within SANDBOX_TENCENT_VALIDATE_DATA_TTL seconds (1800) and that no
    earlier call used; otherwise 21, with a message saying which rule failed.
    A code is used up by the first detection call that reaches a verdict
    (including a steered one); calls refused earlier (signature, parameters,
    video or card rejected) leave it usable, so a client can fix and retry.
  * Identity: idcard_number or idcard_name missing/empty -> -5801. A number
    that is not 18 characters with a valid GB 11643 check digit (upper-case
    X only) and a real birth date, or a name that is not 2-30 Chinese
    characters (a middle dot · allowed between parts) -> -5806 (身份证号码或
    者身份证姓名格式错误, listed under livedetectpicture but in the 人脸核身 range).
  * Video, judged from its content: not a video, a picture, truncated or
    undecodable, or a container other than MP4/MOV, FLV and AVI (WebM and
    Matroska are refused, as MediaRecorder's WebM is by the real service)
    -> -5001; shorter than 1 second -> -5001; smaller than 270 x 480 -> -5015,
    in either orientation (the short side must be >= 270 and the long side
    >= 480: the documents say "最小 270*480" without saying which is the
    width, and phones store portrait video as landscape plus a rotation tag);
    no audio stream -> -5007; sound quieter than -45 dBFS RMS over the whole
    track (digital silence fails, speech at a normal level is -15 to -35
    dBFS) -> -5013. The codec inside is not checked: the documents name none,
    so an MP4 holding VP9 + Opus (Chromium's MediaRecorder) is accepted.
    These are request-level answers (`code`), because the file itself fails
    the documented requirements; verdicts about the person (live_status,
    compare_status) are only ever steered, by identity or from the steering
    queue, except that a still picture turned into a video (no motion at
    all) gets live_status -5016 (翻拍等攻击).
  * Photos (card, image, url): JPEG or PNG by magic bytes, decodable, not cut
    off; anything else (GIF included: "不支持.gif 类型的动图") -> -4018 for
    livedetectfour's card, -4011 for idcardcompare, -4016 for
    livedetectpicture (its own table has no -4011). Missing -> -5805. A `url`
    is fetched by the sandbox within SANDBOX_TENCENT_DOWNLOAD_TIMEOUT seconds
    (5), at most 6 MB; any failure -> -5805. If both url and image are given,
    url is used (as documented).

Answers when nothing is steered:
  * livedetectfour, compare_flag "false": data {live_status: 0, live_msg: "OK"}
    only. "true": also compare_status 0, compare_msg "OK", sim 90 and photo
    (a frame of the video, base64 JPEG).
  * idcardlivedetectfour: live_status/live_msg, compare_status/compare_msg,
    and when compare_status is 0, sim and video_photo.
  * When live_status is not 0, the comparison is not run: compare_status
    repeats the live_status and compare_msg the live_msg (the documents say
    compare_* are returned whenever a comparison was asked for), and there
    is no sim or photo.
  * idcardcompare: data {similarity: 92.0, session_id: <as sent, or "">}.
  * livedetectpicture: data {score: 95}; 0 when the picture is not close to
    3:4 portrait (width/height outside 0.675-0.825: "不符合宽高比的图片返回的
    分值不具备参考意义").

Test identities (any other valid ID number with any valid name passes with
sim 90 / similarity 92.0). All numbers are valid GB 11643 numbers:

    ID 110105199001010010        -> -5804 身份证号码无效
    ID 11010519850505002X        -> -5809 用户身份证登记照无效
    ID 110105197808080037        -> -5817 证件照质量较差
    name 张不符 (any ID)          -> -5803 身份证姓名与身份证号码不一致
    name 李不像 (any ID)          -> compared, but sim 35 / similarity 35.0
    e.g. ID 11010519491231002X    -> passes

For idcardcompare these are the top-level `code`; for idcardlivedetectfour
they are compare_status (code 0, live_status 0). The ID checks come first.

Steering (steering.py: GET/POST /sandbox/tencent/steer) queues the answer for
the next call to one endpoint; its page lists these identities. Fields:

    endpoint = livegetfour | livedetectfour | idcardlivedetectfour |
               idcardcompare | livedetectpicture              (required)
    code = any documented code but 0                  -> that top-level code
    live_status, compare_status (0 or a documented negative code), sim (0-100)
                                     (livedetectfour, idcardlivedetectfour)
    similarity (0-100, decimals allowed)                      (idcardcompare)
    score (0-100)                                         (livedetectpicture)

The checks above (signature, parameters, validate_data, video, photo) all
come before a steered answer is taken. A steered comparison (compare_status
and/or sim, or similarity) replaces what the identity would give; values left
unset keep their defaults (live_status 0, compare_status 0, sim 90).
"""

import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http.multipartparser import MultiPartParserError
from django.utils import timezone

from . import credentials, media
from .identity import id_number_is_valid, name_is_valid
from .models import TencentLipCode
from .protocol import (
    JSON,
    MULTIPART,
    Refusal,
    api_endpoint,
    base64_text,
    clock_skew_seconds,
    declared_length,
    json_object,
    only_value,
    quoted,
    require_content_type,
    strict_b64decode,
    unknown_path,
    vendor_json,
)
from .steering import SteerError, steer_integer, steer_number, steer_page, steered

logger = logging.getLogger(__name__)

VENDOR = "tencent"


# --- What the documents define ----------------------------------------------------


@dataclass(frozen=True)
class Account:
    app_id: str
    secret_id: str
    secret_key: str
    buckets: frozenset
    face_service: bool


ACCOUNTS = (
    Account(
        credentials.TENCENT_APP_ID,
        credentials.TENCENT_SECRET_ID,
        credentials.TENCENT_SECRET_KEY,
        frozenset({credentials.TENCENT_BUCKET}),
        face_service=True,
    ),
    # Public like the first; it only exists to reach codes 12 and 24.
    Account(
        "1250000001",
        "AKIDsandboxTencentNoFaceService00000",
        "sandboxTencentNoFaceSecretKey000",
        frozenset({""}),
        face_service=False,
    ),
)
BY_APP_ID = {account.app_id: account for account in ACCOUNTS}
BY_SECRET_ID = {account.secret_id: account for account in ACCOUNTS}

# The 人脸核身 error table, with the documents' wording (-5806, -5807 are only
# in livedetectpicture's table; -5809, -5817 only in the identity ones).
MESSAGES = {
    0: "OK",
    3: "错误的请求",
    4: "签名为空",
    5: "签名串错误",
    6: "签名中的 appid/bucket 与操作目标不匹配",
    9: "签名过期",
    10: "appid 不存在",
    11: "secretid 不存在",
    12: "appid 和 secretid 不匹配",
    13: "重放攻击",
    14: "签名校验失败",
    15: "操作太频繁，触发频控",
    16: "Bucket 不存在",
    21: "无效参数",
    23: "请求包体过大",
    24: "无权限，未申请服务",
    107: "鉴权服务不可用",
    108: "鉴权服务不可用",
    213: "内部错误",
    -4006: "视频中自拍照特征提取失败",
    -4007: "视频中自拍照之间对比失败",
    -4009: "Card 照片提取特征失败",
    -4010: "自拍照与Card照片相似度计算失败",
    -4011: "照片解码失败",
    -4012: "照片人脸检测失败",
    -4015: "自拍照人脸检测失败",
    -4016: "自拍照解码失败",
    -4017: "Card 照片人脸检测失败",
    -4018: "Card 照片解码失败",
    -5001: "视频无效，上传文件不符合视频要求",
    -5002: "唇语失败",
    -5005: "自拍照解析照片不足，视频里检测到的人脸较少",
    -5007: "视频没有声音",
    -5008: "语音识别失败，视频里的人读错数字",
    -5009: "视频人脸检测失败，没有嘴或者脸",
    -5010: "唇动检测失败，视频里的人嘴巴未张开或者张开幅度小",
    -5011: "活体检测失败(活体其他错误都归类到里面)",
    -5012: "视频中噪声太大",
    -5013: "视频里的声音太小",
    -5014: "活体检测 level 参数无效",
    -5015: "视频像素太低，最小 270*480",
    -5016: "视频里的人不是活体（翻拍等攻击）",
    -5801: "请求缺少身份证号码或身份证姓名",
    -5802: "服务器内部错误，服务暂时不可用",
    -5803: "身份证姓名与身份证号码不一致",
    -5804: "身份证号码无效",
    -5805: "用户未输入图像或者 url 下载失败",
    -5806: "身份证号码或者身份证姓名格式错误",
    -5807: "查询身份证信息错误",
    -5809: "用户身份证登记照无效",
    -5817: "证件照质量较差，请到户籍所在地派出所进行核实",
}
# What live_status / compare_status may be steered to: 0 or a face code.
STATUS_CODES = frozenset(code for code in MESSAGES if code <= 0)

MB = 1024 * 1024
MAX_BODY_BYTES = 6 * MB
MAX_VIDEO_BYTES = 3 * MB
MAX_PICTURE_DOWNLOAD_BYTES = 6 * MB
MIN_SHORT_SIDE, MIN_LONG_SIDE = 270, 480
MIN_VIDEO_SECONDS = 1.0
ACCEPTED_CONTAINERS = ("mp4", "mov", "flv", "avi")
MIN_AUDIO_RMS_DBFS = -45.0
# Below this mean frame-to-frame change (0-255 grey levels on a 32x32
# thumbnail) nothing moves at all: a photo turned into a video. A person in
# front of a camera breathes and blinks; the sample clips move by about 1.7.
STILL_MOTION = 0.05
MAX_SIGNATURE_LIFETIME = 90 * 24 * 3600
SIGNATURE_KEYS = ("a", "b", "k", "e", "t", "r", "f")

DEFAULT_SIM = 90
DEFAULT_SIMILARITY = 92.0
DEFAULT_SCORE = 95
PORTRAIT_RATIO = (0.675, 0.825)  # width / height within 10 % of 3:4

ID_NUMBER_VERDICTS = {
    "110105199001010010": -5804,
    "11010519850505002X": -5809,
    "110105197808080037": -5817,
}
NAME_VERDICTS = {"张不符": -5803}
LOW_SIMILARITY_NAMES = {"李不像": 35}
PASSING_EXAMPLE_ID = "11010519491231002X"

ENDPOINTS = ("livegetfour", "livedetectfour", "idcardlivedetectfour", "idcardcompare", "livedetectpicture")


def validate_data_ttl_seconds():
    return getattr(settings, "SANDBOX_TENCENT_VALIDATE_DATA_TTL", 1800)


def download_timeout_seconds():
    return getattr(settings, "SANDBOX_TENCENT_DOWNLOAD_TIMEOUT", 5.0)


# --- Answers -----------------------------------------------------------------------


def answer(code, *, data=None, detail="", status=200):
    message = MESSAGES.get(code, "")
    if detail:
        message = f"{message}: {detail}"
    # Key order as in the documents' samples: data, code, message.
    body = {"data": data} if data is not None else {}
    body.update(code=code, message=message)
    return vendor_json(body, status=status)


def refuse(refusal):
    return answer(refusal.code, detail=refusal.detail)


# --- Signature ---------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    account: Account
    bucket: str
    fileid: str


def parse_original(text):
    """The signed fields, in the documented order; Refusal(5) otherwise."""
    pairs = []
    for item in text.split("&"):
        key, sep, value = item.partition("=")
        if not sep:
            raise Refusal(5, f"signature field {quoted(item)} has no '='")
        pairs.append((key, value))
    keys = tuple(key for key, _ in pairs)
    if keys not in (SIGNATURE_KEYS, SIGNATURE_KEYS[:-1]):
        raise Refusal(
            5, f"signed fields must be a,b,k,e,t,r,f in this order (f may be left out), got {','.join(keys)}"
        )
    fields = dict(pairs)
    fields.setdefault("f", "")
    if not fields["a"] or not fields["k"]:
        raise Refusal(5, "a (appid) and k (SecretId) must not be empty")
    for key in ("e", "t"):
        if not re.fullmatch(r"[0-9]{1,10}", fields[key]):
            raise Refusal(5, f"{key} must be a UNIX time in seconds, got {quoted(fields[key])}")
    if not re.fullmatch(r"[0-9]{1,10}", fields["r"]):
        raise Refusal(
            5, f"r must be an unsigned decimal integer of at most 10 digits, got {quoted(fields['r'])}"
        )
    return fields


def check_signature(header):
    """The signing account, or Refusal with the documented code."""
    header = (header or "").strip()
    if not header:
        raise Refusal(4, "the Authorization header is missing or empty")
    try:
        raw = strict_b64decode(header)
    except ValueError:
        raise Refusal(5, "Authorization is not standard base64 (not urlsafe, with padding)") from None
    if len(raw) <= 20:
        raise Refusal(5, "the signature is too short to hold an HMAC-SHA1 and the signed text")
    digest, original = raw[:20], raw[20:]
    try:
        text = original.decode("ascii")
    except UnicodeDecodeError:
        raise Refusal(5, "the signed text after the 20-byte HMAC-SHA1 is not ASCII") from None
    fields = parse_original(text)

    account = BY_APP_ID.get(fields["a"])
    if account is None:
        raise Refusal(10, f"appid {quoted(fields['a'])} does not exist")
    owner = BY_SECRET_ID.get(fields["k"])
    if owner is None:
        raise Refusal(11, "the SecretId (k) does not exist")
    if owner is not account:
        raise Refusal(12, "the SecretId (k) belongs to another appid")
    wanted = hmac.new(account.secret_key.encode(), original, hashlib.sha1).digest()
    if not hmac.compare_digest(digest, wanted):
        raise Refusal(14, "HMAC-SHA1(SecretKey, original) does not match")

    now = int(time.time())
    expires, signed_at = int(fields["e"]), int(fields["t"])
    if expires <= signed_at:
        raise Refusal(5, "e must be later than t (人脸核身 takes multi-use signatures only)")
    if signed_at > now + clock_skew_seconds():
        raise Refusal(
            5, f"t is {signed_at - now} s in the future; at most {clock_skew_seconds()} s is accepted"
        )
    if expires - signed_at > MAX_SIGNATURE_LIFETIME:
        raise Refusal(5, "e may be at most three months (90 days) after t")
    if expires <= now:
        raise Refusal(9, f"the signature expired {now - expires} s ago")
    return Signature(account=account, bucket=fields["b"], fileid=fields["f"])


# --- Request bodies ----------------------------------------------------------------------


class Params:
    """The parameters of one request, from a JSON object or a multipart form."""

    def __init__(self, kind, values):
        self.kind = kind
        # name -> list of str (JSON value or plain form field) or UploadedFile
        self.values = values

    def _one(self, name):
        return only_value(name, self.values.get(name, []), code=21)

    def has(self, name):
        return self._one(name) is not None

    def text(self, name):
        """A text parameter, None if absent; refuses what is not text."""
        value = self._one(name)
        if value is None or isinstance(value, str):
            return value
        if self.kind == JSON:
            raise Refusal(21, f"{name} must be a JSON string, got {type(value).__name__}")
        # A file part standing for a text field (the qcloud-image SDK's way).
        value.seek(0)
        try:
            return value.read().decode("utf-8")
        except UnicodeDecodeError:
            raise Refusal(21, f"{name} is not UTF-8 text") from None

    def file(self, name):
        """A binary parameter's bytes, None if absent; must be a file part."""
        value = self._one(name)
        if value is None:
            return None
        if isinstance(value, str):
            raise Refusal(
                21, f"{name} must be sent as a file part of the multipart body, not as a text field"
            )
        return value

    def size(self, name):
        value = self._one(name)
        return getattr(value, "size", 0) if value is not None else 0

    def read(self, name):
        value = self.file(name)
        if value is None:
            return None
        value.seek(0)
        return value.read()


def read_params(request, accepted):
    """Params from the body, if its Content-Type is one of `accepted`."""
    content_type = require_content_type(request, accepted, code=3)
    if content_type == JSON:
        try:
            document = json_object(request.body)
        except RequestDataTooBig:
            raise Refusal(23, f"the body is over {MAX_BODY_BYTES // MB} MB") from None
        except ValueError as problem:
            raise Refusal(3, str(problem)) from None
        return Params(JSON, {name: [value] for name, value in document.items() if value is not None})
    try:
        values = {}
        for name, items in request.POST.lists():
            values.setdefault(name, []).extend(items)
        for name, items in request.FILES.lists():
            values.setdefault(name, []).extend(items)
    except RequestDataTooBig:
        raise Refusal(23, f"the body is over {MAX_BODY_BYTES // MB} MB") from None
    except (MultiPartParserError, TooManyFieldsSent, TooManyFilesSent, UnicodeDecodeError):
        raise Refusal(3, "the multipart/form-data body cannot be parsed") from None
    return Params(MULTIPART, values)


def check_target(params, signature):
    """Codes 6, 16 and 24: the body against the signature and the account."""
    app_id = params.text("appid")
    if not app_id:
        raise Refusal(21, "appid is missing or empty")
    if app_id != signature.account.app_id:
        raise Refusal(6, f"appid {quoted(app_id)} is not the appid of the signature")
    bucket = params.text("bucket")
    if bucket is not None and bucket != signature.bucket:
        raise Refusal(6, "the bucket field differs from b in the signature")
    if signature.fileid:
        raise Refusal(6, "f (fileid) must be empty: these APIs work on no stored file")
    if signature.bucket not in signature.account.buckets:
        raise Refusal(16, f"bucket {quoted(signature.bucket)} does not exist (leave b empty)")
    if not signature.account.face_service:
        raise Refusal(24, "this account has not applied for 人脸核身")


# --- Parameters -------------------------------------------------------------------------


def read_identity(params):
    number, name = params.text("idcard_number"), params.text("idcard_name")
    if not number or not name:
        raise Refusal(-5801, "idcard_number and idcard_name are both required")
    if not id_number_is_valid(number):
        raise Refusal(-5806, "idcard_number is not an 18-character GB 11643 number (check digit, birth date)")
    if not name_is_valid(name):
        raise Refusal(-5806, "idcard_name must be 2-30 Chinese characters (· between parts allowed)")
    return number, name


def identity_verdict(number, name):
    """(status, low similarity or None): the comparison for a test identity."""
    if number in ID_NUMBER_VERDICTS:
        return ID_NUMBER_VERDICTS[number], None
    if name in NAME_VERDICTS:
        return NAME_VERDICTS[name], None
    return 0, LOW_SIMILARITY_NAMES.get(name)


def find_lip_code(params, app_id):
    value = params.text("validate_data")
    if not value:
        raise Refusal(21, "validate_data is missing or empty")
    if not re.fullmatch(r"[0-9]{4}", value):
        raise Refusal(21, f"validate_data must be the 4 digits livegetfour returned, got {quoted(value)}")
    issued = TencentLipCode.objects.filter(app_id=app_id, validate_data=value)
    fresh = issued.filter(created_at__gt=timezone.now() - timedelta(seconds=validate_data_ttl_seconds()))
    lip_code = fresh.filter(used_at__isnull=True).order_by("created_at", "id").first()
    if lip_code is not None:
        return lip_code
    if fresh.exists():
        raise Refusal(21, "validate_data was already used by an earlier detection; call livegetfour again")
    if issued.exists():
        raise Refusal(21, f"validate_data expired ({validate_data_ttl_seconds()} s after livegetfour)")
    raise Refusal(21, "validate_data was not issued by livegetfour to this appid")


def use_lip_code(lip_code):
    # Conditional, so two concurrent calls cannot both use one code.
    if not TencentLipCode.objects.filter(pk=lip_code.pk, used_at__isnull=True).update(used_at=timezone.now()):
        raise Refusal(21, "validate_data was already used by an earlier detection; call livegetfour again")


def read_video(params):
    if not params.has("video"):
        raise Refusal(21, "video is missing")
    if params.size("video") > MAX_VIDEO_BYTES:
        raise Refusal(
            23, f"the video is {params.size('video')} bytes; at most 3 MB ({MAX_VIDEO_BYTES}) is accepted"
        )
    data = params.read("video")
    try:
        facts = media.probe_video(data, snapshots=1)
    except media.MediaError as problem:
        raise Refusal(-5001, problem.detail) from None
    if facts.container not in ACCEPTED_CONTAINERS:
        raise Refusal(-5001, f"a {facts.container} file; MP4/MOV, FLV or AVI is needed")
    if facts.duration < MIN_VIDEO_SECONDS:
        raise Refusal(
            -5001, f"the video lasts {facts.duration:.2f} s; at least {MIN_VIDEO_SECONDS:g} s is needed"
        )
    if facts.short_side < MIN_SHORT_SIDE or facts.long_side < MIN_LONG_SIDE:
        raise Refusal(-5015, f"the video is {facts.width}x{facts.height}; at least 270x480 is needed")
    if not facts.has_audio:
        raise Refusal(-5007, "the video has no audio stream")
    if facts.audio_rms_dbfs < MIN_AUDIO_RMS_DBFS:
        level = "silent" if facts.audio_rms_dbfs == float("-inf") else f"{facts.audio_rms_dbfs:.1f} dBFS RMS"
        raise Refusal(-5013, f"the sound is {level}; at least {MIN_AUDIO_RMS_DBFS:g} dBFS RMS is needed")
    return facts


def check_picture(data, decode_code):
    if not data:
        raise Refusal(-5805, "no picture was sent")
    try:
        return media.probe_image(data)
    except media.MediaError as problem:
        if problem.reason == "empty":
            raise Refusal(-5805, "the picture is empty") from None
        raise Refusal(decode_code, problem.detail) from None


def read_picture(params, name, decode_code):
    """The picture given as `url` (fetched) or as a file part `name`."""
    url = params.text("url")
    if url:
        try:
            data = media.download(
                url, max_bytes=MAX_PICTURE_DOWNLOAD_BYTES, timeout=download_timeout_seconds()
            )
        except media.DownloadError as problem:
            raise Refusal(-5805, f"the url could not be downloaded ({problem.detail})") from None
    else:
        data = params.read(name)
    return check_picture(data, decode_code)


def live_verdict(steer, facts):
    if "live_status" in steer:
        return steer["live_status"]
    # The one verdict read from the content: nothing moves at all.
    return -5016 if facts.motion < STILL_MOTION else 0


def status_message(status):
    return "OK" if status == 0 else MESSAGES[status]


# --- Vendor endpoints ---------------------------------------------------------------------


def vendor_endpoint(name, accepted):
    """Wrap a handler with the checks every endpoint shares, in order: method
    (code 3, protocol.api_endpoint), body size, signature, body, target
    (codes 6/16/24); the handler gives the answer's `data`."""

    def decorate(handler):
        @api_endpoint(vendor=VENDOR, endpoint=name, bad_request_code=3, refuse=refuse)
        def view(request):
            length = declared_length(request)
            if length > MAX_BODY_BYTES:
                raise Refusal(23, f"the body is {length} bytes; at most 6 MB ({MAX_BODY_BYTES}) is accepted")
            signature = check_signature(request.headers.get("Authorization"))
            params = read_params(request, accepted)
            check_target(params, signature)
            data = handler(params, signature.account)
            logger.info("tencent %s: code=0", name)
            return answer(0, data=data)

        return view

    return decorate


def refuse_if_steered_code(steer):
    # A steered top-level code: the request was fine, the "vendor" says no.
    if "code" in steer:
        raise Refusal(steer["code"])


@vendor_endpoint("livegetfour", (JSON,))
def livegetfour(params, account):
    seq = params.text("seq") or ""
    steer = steered(VENDOR, "livegetfour")
    refuse_if_steered_code(steer)
    # Four random digits, leading zeros kept: it is a string, not a number.
    value = f"{secrets.randbelow(10_000):04d}"
    TencentLipCode.objects.create(app_id=account.app_id, validate_data=value, seq=seq[:128])
    return {"validate_data": value}


@vendor_endpoint("livedetectfour", (MULTIPART,))
def livedetectfour(params, account):
    lip_code = find_lip_code(params, account.app_id)
    flag = params.text("compare_flag")
    if flag not in ("true", "false"):
        raise Refusal(
            21, f'compare_flag must be the string "true" or "false", got {quoted(flag or "(none)")}'
        )
    compare = flag == "true"
    params.text("seq")  # optional; read so a repeated seq is refused like any parameter
    if compare and not params.has("card"):
        raise Refusal(-5805, "compare_flag is true but no card picture was sent")
    facts = read_video(params)
    if compare:
        check_picture(params.read("card"), -4018)

    use_lip_code(lip_code)
    steer = steered(VENDOR, "livedetectfour")
    refuse_if_steered_code(steer)
    live_status = live_verdict(steer, facts)
    data = {"live_status": live_status, "live_msg": status_message(live_status)}
    if not compare:
        return data
    if live_status != 0:
        data.update(compare_status=live_status, compare_msg=data["live_msg"])
        return data
    compare_status = steer.get("compare_status", 0)
    data.update(compare_status=compare_status, compare_msg=status_message(compare_status))
    if compare_status == 0:
        data.update(sim=steer.get("sim", DEFAULT_SIM), photo=base64_text(facts.snapshots[0]))
    return data


@vendor_endpoint("idcardlivedetectfour", (MULTIPART,))
def idcardlivedetectfour(params, account):
    lip_code = find_lip_code(params, account.app_id)
    number, name = read_identity(params)
    params.text("seq")
    facts = read_video(params)

    use_lip_code(lip_code)
    steer = steered(VENDOR, "idcardlivedetectfour")
    refuse_if_steered_code(steer)
    live_status = live_verdict(steer, facts)
    data = {"live_status": live_status, "live_msg": status_message(live_status)}
    if live_status != 0:
        data.update(compare_status=live_status, compare_msg=data["live_msg"])
        return data
    if {"compare_status", "sim"} & set(steer):
        # A steered comparison replaces the identity's entirely.
        compare_status, sim = steer.get("compare_status", 0), steer.get("sim", DEFAULT_SIM)
    else:
        compare_status, low = identity_verdict(number, name)
        sim = low if low is not None else DEFAULT_SIM
    data.update(compare_status=compare_status, compare_msg=status_message(compare_status))
    if compare_status == 0:
        data.update(sim=sim, video_photo=base64_text(facts.snapshots[0]))
    return data


@vendor_endpoint("idcardcompare", (JSON, MULTIPART))
def idcardcompare(params, account):
    number, name = read_identity(params)
    session_id = params.text("session_id") or ""
    read_picture(params, "image", -4011)

    steer = steered(VENDOR, "idcardcompare")
    refuse_if_steered_code(steer)
    if "similarity" in steer:
        similarity = steer["similarity"]
    else:
        status, low = identity_verdict(number, name)
        if status != 0:
            raise Refusal(status)
        similarity = low if low is not None else DEFAULT_SIMILARITY
    # A float, as documented (Float), in the sample's key order.
    return {"similarity": float(similarity), "session_id": session_id}


@vendor_endpoint("livedetectpicture", (JSON, MULTIPART))
def livedetectpicture(params, account):
    facts = read_picture(params, "image", -4016)

    steer = steered(VENDOR, "livedetectpicture")
    refuse_if_steered_code(steer)
    low, high = PORTRAIT_RATIO
    natural = DEFAULT_SCORE if low <= facts.width / facts.height <= high else 0
    return {"score": steer.get("score", natural)}


# Any other path under the prefix (a trailing slash, a typo): HTTP 404 so the
# mistake is plain, with a vendor-shaped body.
not_found = unknown_path(
    vendor=VENDOR,
    answer=lambda: answer(3, detail="no such API (the paths have no trailing slash)", status=404),
)


# --- Steering --------------------------------------------------------------------------------


STEER_FIELDS = {
    "livegetfour": (),
    "livedetectfour": ("live_status", "compare_status", "sim"),
    "idcardlivedetectfour": ("live_status", "compare_status", "sim"),
    "idcardcompare": ("similarity",),
    "livedetectpicture": ("score",),
}


def parse_steer(form, endpoint):
    """The answer the steering form queues for `endpoint`; SteerError if invalid."""
    given = [name for name in ("code", *STEER_FIELDS[endpoint]) if form.get(name, "").strip()]
    others = [
        name
        for name in ("code", "live_status", "compare_status", "sim", "similarity", "score")
        if form.get(name, "").strip() and name not in given
    ]
    if others:
        raise SteerError(f"{endpoint} cannot be steered with {', '.join(others)}")
    if not given:
        raise SteerError(f"give code or one of: {', '.join(STEER_FIELDS[endpoint]) or '(code only)'}")
    if "code" in given:
        if len(given) > 1:
            raise SteerError("code answers the whole request; give it alone")
        return {"code": steer_integer(form, "code", allowed=set(MESSAGES) - {0})}
    steer = {}
    for name in given:
        if name in ("live_status", "compare_status"):
            steer[name] = steer_integer(form, name, allowed=STATUS_CODES)
        elif name in ("sim", "score"):
            steer[name] = steer_integer(form, name, low=0, high=100)
        else:
            steer[name] = steer_number(form, name, low=0, high=100, places=2)
    if steer.get("live_status", 0) != 0 and {"compare_status", "sim"} & set(steer):
        raise SteerError("with a non-zero live_status the comparison is not run: drop compare_status and sim")
    if steer.get("compare_status", 0) != 0 and "sim" in steer:
        raise SteerError("with a non-zero compare_status there is no sim: drop sim")
    return steer


def steer_page_context():
    return {
        "vendor": "Tencent 人脸核身 (legacy)",
        "action": "/sandbox/tencent/steer",
        "fields": ("code", "live_status", "compare_status", "sim", "similarity", "score"),
        "identities": [
            ("ID number", number, f"{code} {MESSAGES[code]}") for number, code in ID_NUMBER_VERDICTS.items()
        ]
        + [("name", name, f"{code} {MESSAGES[code]}") for name, code in NAME_VERDICTS.items()]
        + [("name", name, f"compared, sim {sim}") for name, sim in LOW_SIMILARITY_NAMES.items()]
        + [("ID number", PASSING_EXAMPLE_ID, f"passes (any other valid number too), sim {DEFAULT_SIM}")],
        "codes": sorted(MESSAGES.items(), key=lambda item: (item[0] < 0, abs(item[0]))),
    }


# Sandbox-only: queue the answer for the next call to an endpoint.
steer = steer_page(vendor=VENDOR, endpoints=ENDPOINTS, parse=parse_steer, page_context=steer_page_context)