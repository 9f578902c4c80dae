"""Emulator of two Juhe (聚合数据) video liveness APIs.

Written from the vendor documents alone (shared/vendor-docs 000 视频活体检测
and 001 视频活体实名核验), never from the portal's client, so that a misreading
shared by both cannot pass unseen. It is deliberately strict: whatever the
documents do not clearly allow is refused, with the documented code that fits
best and a `reason` naming the problem.

Endpoints, under <site>/sandbox/juhe (the vendor's https://apis.juhe.cn):

    POST face_vedio/verify   key, videoBase64 | videoUrl, livenessType?, validateData?,
                             bestBase64?, bestFrameNum?
                             -> {reason, result: {orderid[, res: {bestBase64?, bestList?}]}, error_code}
    POST videoAuth/query     key, realname, idcard, videoData ("base64:…"), rate_type?
                             -> {reason, error_code, result: {orderid, livingScore[, faceScore,
                                 faceAdvise, pictures]}}

plus sandbox-only URLs: GET videoAuth/face-store-njb?…&p=…&token=… (the
`pictures`) and GET/POST steer (see "Steering" below).

Every answer is HTTP 200 with the outcome in `error_code`, except a wrong
method (HTTP 405) and an unknown path (HTTP 404). `result` is null for every
answer that is not billed; billed answers (0, and 267509 / 2546134 when
steered) carry `result.orderid`, "JH802…" / "JH5461…" followed by the
local time (yymmddHHMMSS) and random letters, like the samples.

Both APIs, in this order:
  * POST only; Content-Type application/x-www-form-urlencoded (a charset
    parameter is fine); parameters in the body, not the query string; a
    parameter given twice; a body that is not valid UTF-8 form encoding. The
    documents have no code for a malformed request, so: face_vedio answers
    280208 其他错误 (its documented catch-all) and videoAuth answers 2546101
    (a code the sandbox made up in the API's own range 2-5461-xx, reason
    "参数错误: …"; the real code is unknown, so the portal must treat any
    unlisted code as an unbilled failure).
  * key missing, empty or unknown -> 10001 错误的请求KEY; the other API's
    key -> 10002 该KEY无请求权限. (Keys: credentials.JUHE_VIDEO_KEY for
    face_vedio, credentials.JUHE_VIDEO_AUTH_KEY for videoAuth.)

face_vedio/verify, then:
  * livenessType absent -> 0; otherwise exactly "0", "1" or "2", else 280208.
    Mode 1 needs validateData of exactly 4 ASCII digits (280206), mode 2
    exactly "1,2" or "2,1" (280207); mode 0 ignores validateData.
  * bestFrameNum, when present, must be an integer 2-10 (280210), an empty
    value included; bestBase64 "1" asks for the best frame, any other value
    asks for nothing ("其他或不传不返回"), as documented.
  * videoBase64 wins over videoUrl when both are non-empty; both empty or
    absent -> 280202. videoBase64 longer than 8 MB (8 x 1024 x 1024
    characters) -> 280236; not standard base64 (urlsafe alphabet, missing
    padding, line breaks, a "data:…;base64," prefix, or a "+" sent unescaped
    that the form decoding turned into a space) -> 280223 解密失败. videoUrl
    is fetched within SANDBOX_JUHE_DOWNLOAD_TIMEOUT seconds (4, "下载耗时不超过
    4S") -> 280225 on timeout, 280224 on any other failure (not http(s),
    HTTP status not 200, connection), 280236 if over 6 MB (its base64 would
    exceed 8 MB).
  * The video, judged from its content: empty -> 280236; not a video,
    truncated, undecodable, or a container other than mp4, avi and flv
    -> 280237 视频格式有误. That refuses WebM/Matroska (MediaRecorder's default)
    and also QuickTime MOV (ftyp brand "qt  ") and 3GP, which the document
    does not list. The codec inside is not checked (none is documented), so
    an MP4 holding VP9 + Opus is accepted. No resolution is documented, so
    none is enforced.
  * Shorter than 2 s -> 267549. In digit mode (1) the user reads the digits
    aloud, so no audio stream or sound under -45 dBFS RMS -> 280240 视频声音
    太小; silent (0) and action (2) modes need no sound.
  * A still picture turned into a video (nothing moves) -> 280244 疑似非真人录制.
  * Success: error_code 0, reason "成功", result {orderid, res: {bestBase64,
    bestList}}: res only when bestBase64=1 or bestFrameNum is given, with
    only the keys asked for; bestBase64 is the middle frame, bestList
    bestFrameNum frames spread over the video (fewer if the video has fewer
    frames), all base64 JPEGs without a data: prefix. With setting
    SANDBOX_JUHE_BEST_FRAMES_LAYOUT = "result" (read per request; default
    "res") the two keys sit directly under result, as the document's sample
    shows.

videoAuth/query, then (every refusal below is 2546101 参数错误 or 2546102
视频无效, the sandbox's own codes, see above):
  * realname: required, 2-30 Chinese characters (· between parts) -> 2546101.
  * idcard: required, 18 characters with a valid GB 11643 check digit
    (upper-case X) and a real birth date -> 2546101.
  * rate_type absent -> 1; otherwise exactly "1" … "7" -> else 2546101.
  * videoData must start with "base64:" (case-sensitive); a
    "data:video/mp4;base64," prefix is refused by name -> 2546101. Longer than
    10 MB (10 x 1024 x 1024 characters, "建议10M以下" treated as a limit),
    empty after the prefix, or not standard base64 -> 2546102.
  * The video: the same content checks as face_vedio (mp4/avi/flv only,
    decodable, at least 2 s: 001 names no format but its data:video/mp4 hint,
    so 000's list from the same vendor is applied) -> 2546102. No sound is
    needed (no digits are read).
  * livingScore is 0.998 (above every rate_type threshold; 0.01 for a still
    video). "高于阈值才会进行人脸比对": only when livingScore is strictly above
    the rate_type's threshold does the comparison run; otherwise the answer is
    still error_code 0 with result {orderid, livingScore} only — no
    faceScore, faceAdvise or pictures — so the client must compare
    livingScore with its threshold itself. The documents give no other "not
    live" code.
  * When the comparison runs: faceScore 0.86 and faceAdvise "系统判断为同一人"
    (faceScore >= 0.6), or "系统判断为不同人" below; pictures: 8 frames of the
    video as JPEG URLs served by the sandbox, valid SANDBOX_JUHE_PICTURE_TTL
    seconds (86400, "有效期24小时"), HTTP 404 afterwards.

Test identity: realname 李不像 (any valid idcard) -> faceScore 0.21,
"系统判断为不同人". Every other valid identity passes.

Steering (steering.py: GET/POST /sandbox/juhe/steer) queues the answer for the
next call to one endpoint. Fields:

    endpoint = face_vedio/verify | videoAuth/query          (required)
    error_code = any code of that API's document but 0 (the system codes
                 10001-10021 included, and 267509 for face_vedio, whose
                 meaning the document does not give: it is answered as a
                 billed result with an orderid)
    livingScore, faceScore = 0-1                         (videoAuth only)

2546134 (passed, picture invalid, billed) answers result {orderid,
livingScore, faceScore, faceAdvise} without pictures; 2546135 (token
expired) and every other code answers result null.
"""

import logging
import re
import secrets
import string
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse, HttpResponseNotFound
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from . import credentials, media
from .identity import id_number_is_valid, name_is_valid
from .models import JuhePicture
from .protocol import (
    Refusal,
    api_endpoint,
    base64_text,
    quoted,
    read_form,
    strict_b64decode,
    unknown_path,
    vendor_json,
)
from .steering import SteerError, steer_integer, steer_number, steer_page, steered

logger = logging.getLogger(__name__)

VENDOR = "juhe"
VERIFY = "face_vedio/verify"
QUERY = "videoAuth/query"
ENDPOINTS = (VERIFY, QUERY)

KEYS = {credentials.JUHE_VIDEO_KEY: VERIFY, credentials.JUHE_VIDEO_AUTH_KEY: QUERY}

SYSTEM_REASONS = {
    10001: "错误的请求KEY",
    10002: "该KEY无请求权限",
    10003: "KEY过期",
    10004: "错误的OPENID",
    10005: "应用未审核超时，请提交认证",
    10007: "未知的请求源",
    10008: "被禁止的IP",
    10009: "被禁止的KEY",
    10011: "当前IP请求超过限制",
    10012: "请求超过次数限制",
    10013: "测试KEY超过请求限制",
    10014: "系统内部异常(调用充值类业务时，请务必联系客服或通过订单查询接口检测订单，避免造成损失)",
    10020: "接口维护",
    10021: "接口停用",
}
REASONS = {
    VERIFY: {
        0: "成功",
        # Billed by the document ("0,267509收费") but never explained.
        267509: "检测完成(计费，文档未说明此码含义)",
        267549: "视频录制时间过短，请录制2秒以上的视频",
        280201: "网络错误",
        280202: "videoBase64和videoUrl不可同时为空",
        280206: "请输入4位数字的数字验证码",
        280207: "请传入正确的动作顺序参数",
        280208: "其他错误",
        280210: "bestFrameNum取值在2-10范围内",
        280219: "未能检测到完整人脸",
        280220: "未检测到张嘴动作",
        280223: "解密失败",
        280224: "文件下载失败",
        280225: "文件下载超时",
        280229: "检测到多张人脸",
        280231: "未能检测到完整人脸",
        280236: "视频为空，或大小不合适，请控制录制时长在6s左右",
        280237: "视频格式有误",
        280240: "视频声音太小",
        280241: "声音识别失败",
        280243: "活体检测没通过",
        280244: "疑似非真人录制",
        **SYSTEM_REASONS,
    },
    QUERY: {
        0: "检测成功",
        2546134: "视频活体检测成功，身份核验成功，图片不合法(收费)",
        2546135: "TOKEN过期",
        # Not in the document: the sandbox's codes for a refused request.
        2546101: "参数错误",
        2546102: "视频无效",
        **SYSTEM_REASONS,
    },
}
BAD_REQUEST = {VERIFY: 280208, QUERY: 2546101}
BILLED = {VERIFY: {0, 267509}, QUERY: {0, 2546134}}
ORDER_PREFIX = {VERIFY: ("JH802", 5), QUERY: ("JH5461", 8)}

MB = 1024 * 1024
MAX_FORM_BYTES = 16 * MB  # refused unread beyond this: the video is too large anyway
MAX_VERIFY_BASE64 = 8 * MB
MAX_VERIFY_DOWNLOAD = 6 * MB  # its base64 is then at most 8 MB
MAX_QUERY_VIDEO_DATA = 10 * MB
ACCEPTED_CONTAINERS = ("mp4", "avi", "flv")
MIN_VIDEO_SECONDS = 2.0
MIN_AUDIO_RMS_DBFS = -45.0
STILL_MOTION = 0.05  # see sandbox/tencent.py: nothing moves at all

RATE_THRESHOLDS = {
    "1": 0.393241,
    "2": 0.022403,
    "3": 0.649192,
    "4": 0.933801,
    "5": 0.973637,
    "6": 0.988479,
    "7": 0.994058,
}
DEFAULT_LIVING_SCORE = 0.998
STILL_LIVING_SCORE = 0.01
DEFAULT_FACE_SCORE = 0.86
SAME_PERSON_FROM = 0.6
LOW_FACE_SCORE_NAMES = {"李不像": 0.21}
PICTURE_COUNT = 8


def layout():
    return getattr(settings, "SANDBOX_JUHE_BEST_FRAMES_LAYOUT", "res")


def picture_ttl_seconds():
    return getattr(settings, "SANDBOX_JUHE_PICTURE_TTL", 24 * 3600)


def download_timeout_seconds():
    return getattr(settings, "SANDBOX_JUHE_DOWNLOAD_TIMEOUT", 4.0)


# --- Answers ------------------------------------------------------------------------


def new_order_id(api):
    prefix, tail = ORDER_PREFIX[api]
    stamp = timezone.localtime().strftime("%y%m%d%H%M%S")
    letters = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(tail))
    return f"{prefix}{stamp}{letters}"


def answer(api, code, result=None, *, detail=""):
    reason = REASONS[api][code]
    if detail:
        reason = f"{reason}: {detail}"
    # Key order as in each document's sample.
    if api == VERIFY:
        body = {"reason": reason, "result": result, "error_code": code}
    else:
        body = {"reason": reason, "error_code": code, "result": result}
    return vendor_json(body)


# --- Requests -----------------------------------------------------------------------


def read_params(request, api):
    """The form parameters as a dict, or Refusal: a body that is not strict
    UTF-8 form encoding gets the API's code for a malformed request, one far
    too large its code for a video too large."""
    return read_form(
        request,
        code=BAD_REQUEST[api],
        too_large_code=280236 if api == VERIFY else 2546102,
        max_bytes=MAX_FORM_BYTES,
    )


def check_key(params, api):
    owner = KEYS.get(params.get("key", ""))
    if owner is None:
        raise Refusal(10001, "key is missing or unknown")
    if owner != api:
        raise Refusal(10002, "this key belongs to the other API")


def probe(data, api, snapshots):
    """VideoFacts after the content checks both APIs share."""
    bad_format = 280237 if api == VERIFY else 2546102
    try:
        facts = media.probe_video(data, snapshots=snapshots)
    except media.MediaError as problem:
        code = 280236 if (problem.reason == "empty" and api == VERIFY) else bad_format
        raise Refusal(code, problem.detail) from None
    if facts.container not in ACCEPTED_CONTAINERS:
        raise Refusal(bad_format, f"a {facts.container} file; mp4, avi or flv is needed")
    if facts.duration < MIN_VIDEO_SECONDS:
        code = 267549 if api == VERIFY else 2546102
        raise Refusal(code, f"the video lasts {facts.duration:.2f} s; at least 2 s is needed")
    return facts


# --- Vendor endpoints ------------------------------------------------------------------


def vendor_endpoint(api):
    """Method (protocol.api_endpoint), form and key checks, then the
    handler's (error_code, result)."""

    def decorate(handler):
        @api_endpoint(
            vendor=VENDOR,
            endpoint=api,
            bad_request_code=BAD_REQUEST[api],
            refuse=lambda refusal: answer(api, refusal.code, detail=refusal.detail),
        )
        def view(request):
            params = read_params(request, api)
            check_key(params, api)
            code, result = handler(request, params)
            logger.info("juhe %s: error_code=%s", api, code)
            return answer(api, code, result)

        return view

    return decorate


def steered_code(api, steer):
    """(code, result) for a steered error_code, or None."""
    if "error_code" not in steer:
        return None
    code = steer["error_code"]
    return code, ({"orderid": new_order_id(api)} if code in BILLED[api] else None)


@vendor_endpoint(VERIFY)
def verify(request, params):
    mode = params.get("livenessType", "0")
    if mode not in ("0", "1", "2"):
        raise Refusal(280208, f"livenessType must be 0, 1 or 2, got {quoted(mode)}")
    validate = params.get("validateData", "")
    if mode == "1" and not re.fullmatch(r"[0-9]{4}", validate):
        raise Refusal(280206, "digit mode needs validateData of exactly 4 digits")
    if mode == "2" and validate not in ("1,2", "2,1"):
        raise Refusal(280207, 'action mode needs validateData "1,2" or "2,1"')
    want_best = params.get("bestBase64") == "1"
    frame_count = 0
    if "bestFrameNum" in params:
        raw = params["bestFrameNum"]
        if not re.fullmatch(r"[0-9]{1,2}", raw) or not 2 <= int(raw) <= 10:
            raise Refusal(280210, f"got {quoted(raw)}")
        frame_count = int(raw)

    data = read_verify_video(params)
    facts = probe(data, VERIFY, max(frame_count, 1 if want_best else 0))
    if mode == "1" and (not facts.has_audio or facts.audio_rms_dbfs < MIN_AUDIO_RMS_DBFS):
        level = "no audio stream" if not facts.has_audio else f"{facts.audio_rms_dbfs:.1f} dBFS RMS"
        raise Refusal(280240, f"digit mode needs the digits read aloud; the sound is {level}")

    steer = steered(VENDOR, VERIFY)
    steered_answer = steered_code(VERIFY, steer)
    if steered_answer:
        return steered_answer
    if facts.motion < STILL_MOTION:
        raise Refusal(280244, "nothing moves in the video")

    result = {"orderid": new_order_id(VERIFY)}
    frames = {}
    if want_best:
        # bestBase64 may be null ("此字段可能返回 null") if no frame was kept.
        middle = facts.snapshots[len(facts.snapshots) // 2] if facts.snapshots else None
        frames["bestBase64"] = base64_text(middle) if middle else None
    if frame_count:
        frames["bestList"] = [base64_text(jpeg) for jpeg in facts.snapshots]
    if frames:
        if layout() == "result":
            result.update(frames)
        else:
            result["res"] = frames
    return 0, result


def read_verify_video(params):
    encoded = params.get("videoBase64", "")
    url = params.get("videoUrl", "")
    if encoded:
        if len(encoded) > MAX_VERIFY_BASE64:
            raise Refusal(
                280236, f"videoBase64 is {len(encoded)} characters; at most 8 MB ({MAX_VERIFY_BASE64})"
            )
        try:
            return strict_b64decode(encoded)
        except ValueError:
            raise Refusal(
                280223,
                "videoBase64 is not standard base64 (A-Z a-z 0-9 + /, = padding, no prefix or line breaks)",
            ) from None
    if url:
        try:
            return media.download(url, max_bytes=MAX_VERIFY_DOWNLOAD, timeout=download_timeout_seconds())
        except media.DownloadError as problem:
            code = {"timeout": 280225, "too-large": 280236}.get(problem.reason, 280224)
            raise Refusal(code, f"videoUrl: {problem.detail}") from None
    raise Refusal(280202)


@vendor_endpoint(QUERY)
def query(request, params):
    name, number = params.get("realname", ""), params.get("idcard", "")
    if not name or not number:
        raise Refusal(2546101, "realname and idcard are both required")
    if not name_is_valid(name):
        raise Refusal(2546101, "realname must be 2-30 Chinese characters (· between parts allowed)")
    if not id_number_is_valid(number):
        raise Refusal(2546101, "idcard is not an 18-character GB 11643 number (check digit, birth date)")
    rate_type = params.get("rate_type", "1")
    if rate_type not in RATE_THRESHOLDS:
        raise Refusal(2546101, f"rate_type must be 1-7, got {quoted(rate_type)}")
    video_data = params.get("videoData", "")
    if not video_data:
        raise Refusal(2546101, "videoData is required")
    if video_data.startswith("data:"):
        raise Refusal(
            2546101, 'videoData must start with "base64:"; replace the "data:video/mp4;base64," prefix'
        )
    if not video_data.startswith("base64:"):
        raise Refusal(2546101, 'videoData must start with "base64:"')
    if len(video_data) > MAX_QUERY_VIDEO_DATA:
        raise Refusal(
            2546102, f"videoData is {len(video_data)} characters; at most 10 MB ({MAX_QUERY_VIDEO_DATA})"
        )
    if len(video_data) == len("base64:"):
        raise Refusal(2546102, "videoData holds nothing after base64:")
    try:
        data = strict_b64decode(video_data[len("base64:") :])
    except ValueError:
        raise Refusal(2546102, "videoData is not standard base64 after base64:") from None
    facts = probe(data, QUERY, PICTURE_COUNT)

    steer = steered(VENDOR, QUERY)
    living = steer.get(
        "livingScore", STILL_LIVING_SCORE if facts.motion < STILL_MOTION else DEFAULT_LIVING_SCORE
    )
    face = steer.get("faceScore", LOW_FACE_SCORE_NAMES.get(name, DEFAULT_FACE_SCORE))
    advice = "系统判断为同一人" if face >= SAME_PERSON_FROM else "系统判断为不同人"
    steered_answer = steered_code(QUERY, steer)
    if steered_answer:
        code, result = steered_answer
        if code == 2546134:
            result.update(livingScore=living, faceScore=face, faceAdvise=advice)
        return code, result

    result = {"orderid": new_order_id(QUERY), "livingScore": living}
    if living > RATE_THRESHOLDS[rate_type]:
        result.update(
            faceScore=face, faceAdvise=advice, pictures=store_pictures(request, result["orderid"], facts)
        )
    return 0, result


def store_pictures(request, order_id, facts):
    now = timezone.now()
    # Housekeeping: pictures nobody may download any more.
    JuhePicture.objects.filter(created_at__lte=now - timedelta(seconds=picture_ttl_seconds())).delete()
    base = request.build_absolute_uri(reverse("sandbox:juhe-picture"))
    urls = []
    for jpeg in facts.snapshots:
        picture = JuhePicture.objects.create(
            order_id=order_id,
            name=f"{secrets.token_hex(16)}.jpg",
            token=secrets.token_hex(12),
            image=jpeg,
            created_at=now,
        )
        # Shaped like the sample: y, m, d, p, token.
        local = timezone.localtime(now)
        query = urlencode(
            {"y": local.year, "m": local.month, "d": local.day, "p": picture.name, "token": picture.token}
        )
        urls.append(f"{base}?{query}")
    return urls


@require_GET
def picture(request):
    """A `pictures` URL: the JPEG while it lives, HTTP 404 afterwards."""
    name, token = request.GET.get("p", ""), request.GET.get("token", "")
    cutoff = timezone.now() - timedelta(seconds=picture_ttl_seconds())
    row = JuhePicture.objects.filter(name=name, created_at__gt=cutoff).first() if name and token else None
    if row is None or not secrets.compare_digest(row.token, token):
        return HttpResponseNotFound("no such picture, or it has expired", content_type="text/plain")
    response = HttpResponse(bytes(row.image), content_type="image/jpeg")
    # A face is personal data: no shared caches.
    response["Cache-Control"] = "private, no-store"
    return response


# Any other path under the prefix: HTTP 404, a Juhe-shaped body with the HTTP
# status as error_code (the documents define no code for it).
not_found = unknown_path(
    vendor=VENDOR,
    answer=lambda: vendor_json(
        {"reason": "接口地址不存在 (no such API under /sandbox/juhe)", "result": None, "error_code": 404},
        status=404,
    ),
)


# --- Steering ------------------------------------------------------------------------------


def parse_steer(form, endpoint):
    """The answer the steering form queues for `endpoint`; SteerError if invalid."""
    given = [name for name in ("error_code", "livingScore", "faceScore") if form.get(name, "").strip()]
    if not given:
        raise SteerError("give error_code, or livingScore / faceScore (videoAuth/query)")
    steer = {}
    if "error_code" in given:
        steer["error_code"] = steer_integer(form, "error_code", allowed=set(REASONS[endpoint]) - {0})
    scores = [name for name in given if name != "error_code"]
    if scores and endpoint != QUERY:
        raise SteerError("livingScore and faceScore only steer videoAuth/query")
    if scores and steer.get("error_code", 2546134) != 2546134:
        raise SteerError("scores only go with error_code 2546134 (or no error_code)")
    for name in scores:
        steer[name] = steer_number(form, name, low=0, high=1, places=6)
    return steer


def steer_page_context():
    return {
        "vendor": "Juhe video liveness",
        "action": "/sandbox/juhe/steer",
        "fields": ("error_code", "livingScore", "faceScore"),
        "identities": [
            ("realname", name, f"videoAuth: faceScore {score}, 系统判断为不同人")
            for name, score in LOW_FACE_SCORE_NAMES.items()
        ]
        + [("rate_type", key, f"threshold {value}") for key, value in RATE_THRESHOLDS.items()],
        "codes": sorted(
            {code: reason for table in REASONS.values() for code, reason in table.items()}.items()
        ),
    }


# Sandbox-only: queue the answer for the next call to an endpoint.
steer = steer_page(vendor=VENDOR, endpoints=ENDPOINTS, parse=parse_steer, page_context=steer_page_context)