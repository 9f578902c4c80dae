"""Emulator of the Jumdata (聚美智数) H5 liveness V2 API.

Written from the vendor document alone (shared/vendor-docs, 活体检测H5-V2),
never from the portal's client, so that a misreading shared by both cannot
pass unseen. It is deliberately strict: whatever the document does not
clearly allow is refused with code 400 and a message naming the problem, so
the portal cannot come to depend on leniency the real vendor may not have.

Endpoints, under <site>/sandbox/jumdata (the vendor's https://api.jumdata.com):

    POST lifecheck/h5/v2/init     -> {code, msg, taskNo, charge, data: {token}}
    GET  lifecheck/h5/v2/html     -> the (emulated) H5 page, HTML
    POST lifecheck/h5/v2/result   -> {code, msg, taskNo, charge[, data: {faceImageUrl}]}

plus two sandbox-only URLs the emulated page uses: POST h5/finish (the
tester's choice of outcome) and GET face/<random>.jpg (the face photo).

Where the document is silent, the choice made is stated in a comment at the
place it is implemented (and collected in the README).
"""

import hashlib
import hmac
import logging
import re
import secrets
import time
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from csp.decorators import csp_replace
from django.conf import settings
from django.http import HttpResponse, HttpResponseNotFound, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from . import credentials
from .models import JumdataTask
from .protocol import (
    Refusal,
    api_endpoint,
    clock_skew_seconds,
    origin,
    quoted,
    read_form,
    unknown_path,
    vendor_json,
)

logger = logging.getLogger(__name__)

VENDOR = "jumdata"

# --- What the document defines ----------------------------------------------

# The sandbox knows one account: the public credentials in credentials.py.
APP_SECRETS = {credentials.JUMDATA_APP_ID: credentials.JUMDATA_APP_SECRET}

ACTIONS = (
    "LookFront",
    "LookLeft",
    "LookRight",
    "LookUp",
    "LookDown",
    "OpenMouth",
    "BlinkEye",
    "ShakeHead",
    "NodHead",
)
LIGHT_COLORS = ("#FFFFFF", "#FFD9E3", "#D8D6FF", "#CFF9FF", "#FFCEFD", "#D8FFCD", "#FFF4CB")
DARK_COLORS = ("#000000", "#3B3C04", "#183C03", "#063C28", "#063C3A", "#060D3C", "#3C0636")

RETURN_URL_MAX_LENGTH = 128

# Common codes, and the codes of `result`, with the document's own wording.
CODE_OK = 200
CODE_BAD_PARAMETERS = 400
CODE_NO_SUCH_API = 404
RESULT_PASSED = 200
RESULT_PENDING = 201
RESULT_NOT_PASSED = 202
RESULT_CHECK_FAILED = 203
RESULT_TOKEN_EXPIRED = 301

MSG_OK = "成功"
MSG_BAD_PARAMETERS = "参数错误"
MSG_NO_SUCH_API = "接口地址不正确"
MSG_PASSED = "活体检测通过"
MSG_NOT_PASSED = "活体检测未通过"
MSG_PENDING = "未查询到检测结果"
MSG_CHECK_FAILED = "检测失败"
MSG_TOKEN_EXPIRED = "token已过期"

# The emulated page's buttons: (outcome, element id, label, what `result` will say).
# The ids are stable so browser tests can press them.
PAGE_BUTTONS = (
    ("pass", "sandbox-pass", "Pass", "result → 200 活体检测通过 (billed), with a face photo"),
    (
        "fail",
        "sandbox-fail",
        "Not passed",
        "result → 202 活体检测未通过 (billed): e.g. a spoof or wrong actions",
    ),
    ("error", "sandbox-error", "Check failed", "result → 203 检测失败 (not billed): e.g. camera refused"),
    (
        "abandon",
        "sandbox-abandon",
        "Leave without finishing",
        "result stays 201, then 301 once the token dies",
    ),
)

# The parameters of init and result take a few hundred bytes; a body far
# larger is refused unread.
MAX_FORM_BYTES = 64 * 1024
FACE_IMAGE = Path(__file__).resolve().parent / "static" / "sandbox" / "jumdata-face.jpg"


def token_ttl_seconds():
    # Read per request so tests (and a tester in a hurry) can shorten it.
    return getattr(settings, "SANDBOX_JUMDATA_TOKEN_TTL", 600)


def expected_sign(app_id, app_secret, timestamp):
    return hashlib.sha256(f"{app_id}{app_secret}{timestamp}".encode()).hexdigest()


def new_task_no():
    # "本次请求号": a fresh number for every answer, 24 digits like the
    # document's sample (which starts with a 0, so leading zeros are kept).
    return f"{secrets.randbelow(10**24):024d}"


# --- Answers -----------------------------------------------------------------


class BadParameters(Refusal):
    """A request the vendor refuses with code 400 (参数错误), the one refusal
    the document defines; `field` names the parameter for the log."""

    def __init__(self, field, detail):
        super().__init__(CODE_BAD_PARAMETERS, detail, field=field)


def answer(code, msg, *, charge, data=None, task_no=None):
    # The vendor carries the outcome in `code` with HTTP 200; `data` is left
    # out where the document's samples leave it out (every answer that has
    # nothing to report), so a client must not assume it is there.
    body = {"code": code, "msg": msg, "taskNo": task_no or new_task_no(), "charge": charge}
    if data is not None:
        body["data"] = data
    return vendor_json(body)


def refuse(refusal):
    # HTTP 200 and code 400, like every vendor answer; a wrong method gets
    # HTTP 405 with this body (protocol.api_endpoint).
    return answer(refusal.code, f"{MSG_BAD_PARAMETERS}: {refusal.detail}", charge=False)


# --- Request checks ------------------------------------------------------------


def read_params(request):
    """The form parameters as a dict, or a code-400 Refusal."""
    # "如接口没有单独说明,所有接口均为 application/x-www-form-urlencoded": other
    # bodies (JSON, multipart) are refused rather than guessed at, and so
    # are parameters in the query string or given twice.
    return read_form(
        request, code=CODE_BAD_PARAMETERS, too_large_code=CODE_BAD_PARAMETERS, max_bytes=MAX_FORM_BYTES
    )


def check_common(params):
    """Check appId, timestamp and sign; return the appId."""
    for name in ("appId", "timestamp", "sign"):
        if not params.get(name):
            raise BadParameters(name, f"common parameter {name} is missing or empty")
    app_id, timestamp, sign = params["appId"], params["timestamp"], params["sign"]

    # Unknown appId answers 400, not 601 (接口未开通): 601 is for a known
    # account without this API, and the sandbox's one account has it.
    app_secret = APP_SECRETS.get(app_id)
    if app_secret is None:
        raise BadParameters("appId", f"unknown appId {quoted(app_id)}")

    # "当前时间戳(毫秒)": exactly 13 ASCII digits, which also catches a value
    # in seconds (10 digits) or with a decimal point.
    if not re.fullmatch(r"[0-9]{13}", timestamp):
        raise BadParameters(
            "timestamp",
            f"timestamp must be the current time in milliseconds (13 digits), got {quoted(timestamp)}",
        )
    # The document sets no window; ±5 minutes is a common vendor choice and
    # catches a clock that is off or a timestamp in the wrong unit.
    skew = clock_skew_seconds()
    offset = int(timestamp) / 1000 - time.time()
    if abs(offset) > skew:
        raise BadParameters(
            "timestamp",
            f"timestamp is {offset:+.0f} s from the sandbox clock; at most ±{skew} s is accepted",
        )

    # The document shows lower-case hex only, so that is all that is
    # accepted: a client sending upper case would be relying on luck.
    wanted = expected_sign(app_id, app_secret, timestamp)
    if not hmac.compare_digest(sign.encode(), wanted.encode()):
        raise BadParameters(
            "sign", "sign does not match sha256(appId + appSecret + timestamp) as lower-case hex"
        )
    return app_id


def check_return_url(params):
    url = params.get("returnUrl", "")
    if not url:
        raise BadParameters("returnUrl", "returnUrl is missing or empty")
    if len(url) > RETURN_URL_MAX_LENGTH:
        raise BadParameters(
            "returnUrl",
            f"returnUrl is {len(url)} characters long; at most {RETURN_URL_MAX_LENGTH} are allowed",
        )
    # "以http或https开头": the scheme must be written in lower case, and a
    # host must follow, or the page would have nowhere to send the browser.
    if not url.startswith(("http://", "https://")):
        raise BadParameters("returnUrl", f"returnUrl must start with http:// or https://, got {quoted(url)}")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url) or not urlsplit(url).hostname:
        raise BadParameters("returnUrl", f"returnUrl is not a valid URL: {quoted(url)}")
    return url


def split_list(params, name, allowed, hint):
    """Parse an optional comma list; None when the parameter is absent."""
    if name not in params:
        return None
    raw = params[name]
    # "默认不开启": leaving the parameter out turns the feature off. An empty
    # value is refused rather than read as "off", since it usually means the
    # client meant to send something and did not.
    if raw == "":
        raise BadParameters(name, f"{name} is empty; leave it out to turn it off")
    items = raw.split(",")
    seen = set()
    for item in items:
        if item == "":
            raise BadParameters(name, f"{name} has an empty item (a stray or doubled comma) in {quoted(raw)}")
        # Names and colours must be written as the document lists them:
        # case-sensitive, no spaces around the commas.
        if item not in allowed:
            raise BadParameters(name, f"{name}: {quoted(item)} is not one of {hint}")
        # The document gives no meaning to a repeated colour (one is picked
        # at random from the set) nor to a repeated action, so both are
        # refused rather than guessed at.
        if item in seen:
            raise BadParameters(name, f"{name}: {item} is given more than once")
        seen.add(item)
    return items


def check_init_params(params):
    return_url = check_return_url(params)
    colors = split_list(
        params,
        "colors",
        LIGHT_COLORS + DARK_COLORS,
        "the 14 colours the document lists, in upper-case hex: light "
        + ",".join(LIGHT_COLORS)
        + "; dark "
        + ",".join(DARK_COLORS),
    )
    actions = split_list(params, "actions", ACTIONS, ", ".join(ACTIONS) + " (case-sensitive)")

    # Flash liveness alternates a light and a dark colour, so it needs one
    # of each; a single colour cannot satisfy that either.
    if colors is not None and not (set(colors) & set(LIGHT_COLORS) and set(colors) & set(DARK_COLORS)):
        raise BadParameters(
            "colors", "colors must include at least one light colour and at least one dark colour"
        )
    # "闪光和动作(LookFront直视除外)同时使用时,必须在actions参数中设置LookFront":
    # its position in the list is not prescribed, so it is not checked.
    if colors and actions and set(actions) - {"LookFront"} and "LookFront" not in actions:
        raise BadParameters(
            "actions",
            "with colors and any action other than LookFront, actions must include LookFront "
            "(the flash runs while the user looks straight at the camera)",
        )
    return return_url, actions or [], colors or []


# --- Vendor endpoints -----------------------------------------------------------


@api_endpoint(vendor=VENDOR, endpoint="init", bad_request_code=CODE_BAD_PARAMETERS, refuse=refuse)
def init(request):
    params = read_params(request)
    app_id = check_common(params)
    return_url, actions, colors = check_init_params(params)

    task_no = new_task_no()
    task = JumdataTask.objects.create(
        token=secrets.token_hex(20),
        app_id=app_id,
        init_task_no=task_no,
        return_url=return_url,
        actions=",".join(actions),
        colors=",".join(colors),
        face_token=secrets.token_urlsafe(24),
    )
    logger.info("jumdata init: code=200 taskNo=%s", task_no)
    # Init is billed, as the document's sample shows (charge: true).
    return answer(CODE_OK, MSG_OK, charge=True, data={"token": task.token}, task_no=task_no)


def embeddable(view):
    """Lets any site frame the page, like a vendor page that sets no
    X-Frame-Options: the portal can be embedded in an integrator's iframe,
    and the H5 page then loads inside that frame."""

    # Explicit, or the portal's default "frame-ancestors 'none'" applies.
    return xframe_options_exempt(csp_replace({"frame-ancestors": ["*"]})(view))


def page_error(title, detail, status):
    markup = render_to_string("sandbox/jumdata_error.html", {"title": title, "detail": detail})
    return HttpResponse(markup, status=status)


@csrf_exempt
@embeddable
@never_cache
@require_GET
def html(request):
    # "失败则返回相应错误信息": an unknown or expired token gets an HTML page
    # saying so, with HTTP 200 like every other vendor answer (the vendor puts
    # outcomes in the body, not the status). Other methods get a bare 405:
    # the document says GET, and a browser only ever sends that.
    token = request.GET.get("token", "")
    if not token:
        return page_error("token is missing", "Open this page as html?token=<the token from init>.", 200)
    task = JumdataTask.objects.filter(token=token).first()
    if task is None:
        return page_error("Unknown token", "No liveness check was started with this token.", 200)
    ttl = token_ttl_seconds()
    if task.is_expired(ttl):
        return page_error(
            "token expired (token已过期)",
            f"This token lived {ttl} seconds from init and is no longer valid. Start a new check.",
            200,
        )
    context = {
        "task": task,
        "finish_url": reverse("sandbox:jumdata-finish"),
        "expires_at": task.expires_at(ttl),
        "light_colors": LIGHT_COLORS,
        "outcome_label": task.get_outcome_display(),
        "buttons": PAGE_BUTTONS,
    }
    # Rendered without the request on purpose: this page stands for a foreign
    # origin and must not pick up the portal's context processors.
    response = HttpResponse(render_to_string("sandbox/jumdata_page.html", context))
    # Each button's form is answered with a redirect to the returnUrl, and
    # browsers check form-action against redirects too (django-csp's
    # per-answer addition, as its @csp_update decorator makes).
    response._csp_update = {"form-action": [origin(task.return_url)]}
    return response


@api_endpoint(vendor=VENDOR, endpoint="result", bad_request_code=CODE_BAD_PARAMETERS, refuse=refuse)
def result(request):
    params = read_params(request)
    app_id = check_common(params)
    token = params.get("token", "")
    if not token:
        raise BadParameters("token", "token is missing or empty")
    # An unknown token is a bad parameter (400): the document's 301 is only
    # for a token that existed and has died. A token started by another
    # appId is unknown to this caller.
    task = JumdataTask.objects.filter(token=token, app_id=app_id).first()
    if task is None:
        raise BadParameters("token", "unknown token (it was never returned by init for this appId)")

    code, msg, charge, data = result_for(task, request)
    logger.info("jumdata result: code=%s initTaskNo=%s", code, task.init_task_no)
    return answer(code, msg, charge=charge, data=data)


def result_for(task, request):
    """(code, msg, charge, data) that `result` answers for this task now."""
    # "指初始化之后未在10分钟内获取结果": once the token has died every result
    # call answers 301, even for an outcome recorded (or fetched) before.
    if task.is_expired(token_ttl_seconds()):
        return RESULT_TOKEN_EXPIRED, MSG_TOKEN_EXPIRED, False, None
    # 200 and 202 are billed on every call that answers them ("(计费)" in the
    # code table is per answer): a client should fetch the result once.
    if task.outcome == JumdataTask.Outcome.PASS:
        face_url = request.build_absolute_uri(reverse("sandbox:jumdata-face", args=[task.face_token]))
        return RESULT_PASSED, MSG_PASSED, True, {"faceImageUrl": face_url}
    if task.outcome == JumdataTask.Outcome.FAIL:
        return RESULT_NOT_PASSED, MSG_NOT_PASSED, True, None
    if task.outcome == JumdataTask.Outcome.ERROR:
        return RESULT_CHECK_FAILED, MSG_CHECK_FAILED, False, None
    # Nothing chosen yet, or the tester left without finishing.
    return RESULT_PENDING, MSG_PENDING, False, None


# --- Sandbox-only URLs ----------------------------------------------------------


@csrf_exempt
@embeddable
@require_POST
def finish(request):
    """The emulated page's buttons: record the tester's choice, go back."""
    token = request.POST.get("token", "")
    outcome = request.POST.get("outcome", "")
    if outcome not in JumdataTask.Outcome.values:
        return page_error(
            "Unknown outcome", f"outcome must be one of {', '.join(JumdataTask.Outcome.values)}.", 400
        )
    task = JumdataTask.objects.filter(token=token).first() if token else None
    if task is None:
        return page_error("Unknown token", "No liveness check was started with this token.", 404)
    if task.is_expired(token_ttl_seconds()):
        return page_error("token expired (token已过期)", "Nothing was recorded. Start a new check.", 410)

    # The first choice is final (a double click, the back button, a second
    # tab): the conditional update makes that hold across processes too.
    recorded = JumdataTask.objects.filter(pk=task.pk, outcome="").update(
        outcome=outcome, outcome_at=timezone.now()
    )
    logger.info(
        "jumdata page: outcome %s for initTaskNo=%s",
        outcome if recorded else "ignored (already recorded)",
        task.init_task_no,
    )
    # Like the real page: back to returnUrl exactly as given at init, which
    # carries no result; the portal must ask `result`.
    return HttpResponseRedirect(task.return_url)


@cache
def face_image_bytes():
    return FACE_IMAGE.read_bytes()


@require_GET
def face(request, face_token):
    """The face photo of a passed check (data.faceImageUrl)."""
    # Served only for a passed check, and without an expiry (the document
    # gives none); a plain HTTP 404 otherwise, as for any missing file.
    if not JumdataTask.objects.filter(face_token=face_token, outcome=JumdataTask.Outcome.PASS).exists():
        return HttpResponseNotFound("no such face image", content_type="text/plain")
    response = HttpResponse(face_image_bytes(), content_type="image/jpeg")
    # A real face photo is personal data: no shared caches.
    response["Cache-Control"] = "private, no-store"
    return response


# "404 接口地址不正确": any other path under the prefix, any method. HTTP 200
# like the vendor's other codes.
not_found = unknown_path(
    vendor=VENDOR, answer=lambda: answer(CODE_NO_SUCH_API, MSG_NO_SUCH_API, charge=False)
)
