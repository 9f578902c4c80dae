"""What the person's device can do, as its page reported it before a
method was chosen for a `"method": "auto"` session (static/js/route.js),
and the in-app browser its User-Agent names.

The page's report is the person's own word: it only steers which of the
integrator's allowed methods is tried first, so a false report can do no
more than pick a method that then fails on that device."""

import re
from dataclasses import asdict, dataclass, field

# In-app browsers, by a User-Agent pattern each app documents or is known
# by, first match wins. Methods name the ones their vendor's hosted page is
# known to fail in (`Method.hosted_page_fails_in`); the list is kept in
# docs/routing.md.
IN_APP_BROWSERS = (
    ("wechat_work", re.compile(r"wxwork/", re.I)),
    ("wechat", re.compile(r"MicroMessenger/", re.I)),
    ("qq", re.compile(r"\bQQ/\d", re.I)),
    ("weibo", re.compile(r"\bWeibo\b|__weibo__", re.I)),
    ("alipay", re.compile(r"AlipayClient/", re.I)),
    ("dingtalk", re.compile(r"DingTalk/", re.I)),
    ("douyin", re.compile(r"\baweme[_/]|BytedanceWebview", re.I)),
    ("facebook", re.compile(r"\bFBAN/|\bFBAV/", re.I)),
    ("instagram", re.compile(r"\bInstagram\b", re.I)),
)

MAX_RECORDER_TYPES = 12
MAX_TYPE_LENGTH = 80


def in_app_browser(user_agent: str) -> str:
    """The in-app browser `user_agent` names (`wechat`, `weibo`, …), or ""."""
    for name, pattern in IN_APP_BROWSERS:
        if pattern.search(user_agent or ""):
            return name
    return ""


@dataclass(frozen=True)
class Device:
    """A device's abilities. `reported` is False when the page sent no
    probe at all (no script ran): then nothing is ruled out but what the
    User-Agent says."""

    camera: bool = True
    microphone: bool = True
    media_recorder: bool = True
    recorder_types: tuple[str, ...] = field(default_factory=tuple)
    in_app: str = ""
    reported: bool = False

    @classmethod
    def from_report(cls, report, *, user_agent: str) -> "Device":
        """A device from the page's JSON report (anything a body holds:
        wrong types read as "cannot") and its User-Agent."""
        in_app = in_app_browser(user_agent)
        if not isinstance(report, dict):
            return cls(in_app=in_app)
        types = report.get("recorder_types")
        types = tuple(
            t[:MAX_TYPE_LENGTH] for t in (types if isinstance(types, list) else [])[:MAX_RECORDER_TYPES]
            if isinstance(t, str)
        )
        return cls(
            camera=report.get("camera") is True,
            microphone=report.get("microphone") is True,
            media_recorder=report.get("media_recorder") is True and bool(types),
            recorder_types=types,
            in_app=in_app,
            reported=True,
        )

    def as_dict(self) -> dict:
        facts = asdict(self)
        facts["recorder_types"] = list(self.recorder_types)
        return facts
