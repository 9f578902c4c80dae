"""Jumdata (聚美智数) H5 liveness V2: vendor-docs file 004 (the vendor-docs README
lists it as 003; the Jumdata text is in 004_8fc182905da6e522.txt).

`init` (billed) hands out a token for the vendor's own liveness page; the
browser is sent to `html?token=`; the vendor page redirects back to our
`returnUrl`; `result` (fetched server to server) says what happened. The
browser coming back proves nothing: only `result` does.
"""

import hashlib
import time
from dataclasses import dataclass
from enum import Enum
from urllib.parse import quote

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .base import VendorRejected, VendorResponseError, code_lookup
from .transport import vendor_call

VENDOR = "jumdata"
# Named in the consent text: the person is told who receives their face.
DISPLAY_NAME = "聚美智数 Jumdata"
RETURN_URL_MAX_LENGTH = 128
TOKEN_TTL_SECONDS = 600

ACTIONS = ("LookFront", "LookLeft", "LookRight", "LookUp", "LookDown", "OpenMouth", "BlinkEye", "ShakeHead", "NodHead")
LIGHT_COLORS = ("#FFFFFF", "#FFD9E3", "#D8D6FF", "#CFF9FF", "#FFCEFD", "#D8FFCD", "#FFF4CB")
DARK_COLORS = ("#000000", "#3B3C04", "#183C03", "#063C28", "#063C3A", "#060D3C", "#3C0636")


class H5Outcome(Enum):
    PASSED = "passed"  # 200, billed
    NOT_PASSED = "not_passed"  # 202, billed
    PENDING = "pending"  # 201: no result yet
    CHECK_FAILED = "check_failed"  # 203: camera refused, unsupported browser, …
    TOKEN_EXPIRED = "token_expired"  # 301: no result fetched within 10 minutes


@dataclass(frozen=True)
class Code:
    meaning: str  # the vendor's own words, for staff
    message: str  # what the user is told
    billed: bool = False
    permanent: bool = False  # retrying cannot help
    outcome: H5Outcome | None = None  # set for `result` codes that are answers


CODES = {
    200: Code("成功 / 活体检测通过", _("Liveness check passed."), billed=True, outcome=H5Outcome.PASSED),
    202: Code(
        "活体检测未通过",
        _(
            "The liveness check did not pass. Face the camera in good light, follow the prompts, "
            "and try again."
        ),
        billed=True,
        outcome=H5Outcome.NOT_PASSED,
    ),
    201: Code(
        "未查询到检测结果",
        _("There is no result yet. If you did not finish the check, continue it."),
        outcome=H5Outcome.PENDING,
    ),
    203: Code(
        "活体检测失败",
        _(
            "The check could not run: the camera may have been blocked or this browser is not "
            "supported. Allow camera access, or open the link in your phone's own browser, and try again."
        ),
        outcome=H5Outcome.CHECK_FAILED,
    ),
    301: Code(
        "token已过期",
        _("The check was not finished within 10 minutes. Please start again."),
        outcome=H5Outcome.TOKEN_EXPIRED,
    ),
    400: Code("参数错误", _("The verification service refused our request. Please contact support."), permanent=True),
    404: Code("接口地址不正确", _("The verification service is misconfigured. Please contact support."), permanent=True),
    500: Code("系统维护,请稍候再试", _("The verification service is under maintenance. Please try again in a few minutes.")),
    601: Code("接口未开通", _("The verification service is not available for this site. Please contact support."), permanent=True),
    602: Code("账号停用", _("The verification service is not available for this site. Please contact support."), permanent=True),
    604: Code("接口停用", _("The verification service is not available for this site. Please contact support."), permanent=True),
    606: Code("调用超限,请稍候再试", _("The verification service has reached its usage limit. Please try again later.")),
    607: Code("ip不在白名单", _("The verification service is not available for this site. Please contact support."), permanent=True),
    609: Code("请求过于频繁,请稍候再试", _("The verification service is busy. Please try again in a moment.")),
    610: Code("请求超时", _("The verification service timed out. Please try again.")),
    999: Code("其他", _("The verification service reported an unexpected error. Please try again.")),
}
UNKNOWN_CODE = Code("未知返回码", _("The verification service gave an unexpected answer. Please try again."))

# `result` is asked again on these (and on connection errors and 5xx).
RESULT_RETRY_CODES = frozenset({609, 610})


describe = code_lookup(CODES, UNKNOWN_CODE)
# The codes of calls that went as they should (`result`'s 201 is "not yet").
SUCCESS_CODES = frozenset({"200", "201"})
# Busy or down right now (charge false): another vendor may take the person.
UNAVAILABLE_CODES = frozenset({500, 606, 609, 610})


@dataclass(frozen=True)
class JumdataInit:
    token: str
    task_no: str
    billed: bool


@dataclass(frozen=True)
class JumdataResult:
    code: int
    outcome: H5Outcome
    task_no: str
    billed: bool
    face_image_url: str = ""

    @property
    def is_final(self) -> bool:
        return self.outcome is not H5Outcome.PENDING


def sign(app_id: str, app_secret: str, timestamp: str) -> str:
    """sha256(appId + appSecret + timestamp), lowercase hex."""
    return hashlib.sha256(f"{app_id}{app_secret}{timestamp}".encode()).hexdigest()


def options_errors(*, actions=(), colors=()) -> dict[str, str]:
    """What is wrong with an actions/colours choice, by field (empty: fine).
    Mirrors the rules of `init`, so a bad choice never costs a vendor call."""
    errors = {}
    unknown = [a for a in actions if a not in ACTIONS]
    if unknown:
        errors["actions"] = f"unknown action(s) {', '.join(unknown)}; choose from {', '.join(ACTIONS)}"
    upper = [c.upper() for c in colors]
    unknown = [c for c in upper if c not in LIGHT_COLORS + DARK_COLORS]
    if unknown:
        errors["colors"] = f"unknown colour(s) {', '.join(unknown)}; see the 14 colours of the Jumdata document"
    elif colors and not (set(upper) & set(LIGHT_COLORS) and set(upper) & set(DARK_COLORS)):
        errors["colors"] = "colours must include at least one light and one dark colour"
    if colors and any(a != "LookFront" for a in actions) and "LookFront" not in actions:
        errors["actions"] = "with colours and other actions, LookFront must be one of the actions"
    return errors


class JumdataClient:
    def __init__(self, *, base_url: str, app_id: str, app_secret: str, timeout, recorder=None):
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self.app_secret = app_secret
        self.timeout = timeout
        self.recorder = recorder  # takes each call's record (transport.Recorder)

    @classmethod
    def from_settings(cls, *, recorder=None) -> "JumdataClient":
        return cls(
            base_url=settings.JUMDATA_BASE_URL,
            app_id=settings.JUMDATA_APP_ID,
            app_secret=settings.JUMDATA_APP_SECRET,
            timeout=settings.VENDOR_TIMEOUT_SECONDS,
            recorder=recorder,
        )

    def html_url(self, token: str) -> str:
        """The vendor's liveness page, opened by the browser itself."""
        return f"{self.base_url}/lifecheck/h5/v2/html?token={quote(token, safe='')}"

    def init(self, *, return_url: str, actions=(), colors=()) -> JumdataInit:
        """Starts a check (billed). Never retried: a second call bills again."""
        if len(return_url) > RETURN_URL_MAX_LENGTH:
            raise ValueError(f"returnUrl is {len(return_url)} characters; Jumdata allows {RETURN_URL_MAX_LENGTH}")
        params = {"returnUrl": return_url}
        if colors:
            params["colors"] = ",".join(c.upper() for c in colors)
        if actions:
            params["actions"] = ",".join(actions)
        body, call = self._post("init", params)
        code = body.get("code")
        if code != 200:
            raise self._rejected("init", body, call)
        token = (body.get("data") or {}).get("token")
        if not isinstance(token, str) or not token:
            raise VendorResponseError(
                "init answered 200 without data.token", vendor=VENDOR, endpoint="init", code=200, billed=True
            )
        return JumdataInit(token=token, task_no=str(body.get("taskNo", "")), billed=call.billed)

    def fetch_result(self, token: str) -> JumdataResult:
        """What the vendor knows about the check behind `token`."""
        body, call = self._post("result", {"token": token})
        code = body.get("code")
        known = describe(code)
        if known.outcome is None:
            raise self._rejected("result", body, call)
        face_image_url = ""
        if known.outcome is H5Outcome.PASSED:
            face_image_url = (body.get("data") or {}).get("faceImageUrl") or ""
        return JumdataResult(
            code=code,
            outcome=known.outcome,
            task_no=str(body.get("taskNo", "")),
            billed=call.billed,
            face_image_url=face_image_url,
        )

    def download_face_image(self, url: str) -> bytes:
        """The face photo `result` pointed to (its URL dies with time).
        VendorError when it did not come, or did not come as an image."""
        with vendor_call(vendor=VENDOR, endpoint="faceImage", recorder=self.recorder, request_summary={}) as call:
            response = call.send("GET", url, timeout=self.timeout)
            if response.status_code != 200 or not response.content.startswith((b"\xff\xd8\xff", b"\x89PNG")):
                raise VendorResponseError(
                    f"HTTP {response.status_code}, {len(response.content)} bytes, not a JPEG or PNG",
                    vendor=VENDOR, endpoint="faceImage", http_status=response.status_code,
                )
            return response.content

    # --- protocol -----------------------------------------------------------

    def _post(self, endpoint: str, params: dict):
        timestamp = str(int(time.time() * 1000))
        form = {
            "appId": self.app_id,
            "timestamp": timestamp,
            "sign": sign(self.app_id, self.app_secret, timestamp),
            **params,
        }
        # redact() cuts the returnUrl, and its link token, to the portal's host.
        with vendor_call(vendor=VENDOR, endpoint=endpoint, recorder=self.recorder, request_summary=form) as call:
            response = call.send("POST", f"{self.base_url}/lifecheck/h5/v2/{endpoint}", data=form, timeout=self.timeout)
            if response.status_code >= 400:
                raise VendorResponseError(
                    f"HTTP {response.status_code}", vendor=VENDOR, endpoint=endpoint, http_status=response.status_code
                )
            body = call.parse_json(response)
            record = call.record
            record.vendor_code = str(body.get("code", ""))
            record.request_id = str(body.get("taskNo", ""))
            charge = body.get("charge")
            record.billed = charge if isinstance(charge, bool) else describe(body.get("code")).billed
            return body, record

    def _rejected(self, endpoint: str, body: dict, call) -> VendorRejected:
        code = body.get("code")
        known = describe(code)
        return VendorRejected(
            f"{endpoint} answered {code}: {body.get('msg', '')}"[:200],
            vendor=VENDOR,
            endpoint=endpoint,
            code=code,
            permanent=known.permanent,
            billed=call.billed,
            request_id=call.request_id,
        )

