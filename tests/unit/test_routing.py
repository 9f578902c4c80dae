"""`"method": "auto"` without a database: what a device report says, the
in-app browsers a User-Agent names, which methods a device can do, and
which vendor failures let a session move on (nothing billed)."""

import pytest

from verification.domain.device import Device, in_app_browser
from verification.methods import REGISTRY, method_of
from verification.vendors import VENDORS
from verification.vendors.base import (
    CircuitOpen,
    VendorConnectionError,
    VendorRejected,
    VendorResponseError,
    may_fall_over,
)

ANDROID_CHROME = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36"
WECHAT = ANDROID_CHROME + " XWEB/1300 MMWEBSDK/20240301 MicroMessenger/8.0.49.2600(0x28003133) WeChat/arm64 Weixin NetType/WIFI"
WECOM = WECHAT + " wxwork/4.1.22 MicroMessenger/7.0.1"
WEIBO = ANDROID_CHROME + " Weibo (Xiaomi-2211133C__weibo__14.5.2__android__android14)"
DOUYIN = ANDROID_CHROME + " aweme_290400 JsSdk/1.0 NetType/WIFI Channel/douyin_tengxun_wzl"
ALIPAY = ANDROID_CHROME + " AlipayClient/10.5.86.8000"
FACEBOOK_IOS = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/455.0]"
QQ = ANDROID_CHROME + " V1_AND_SQ_9.0.20_5844_YYB_D QQ/9.0.20.16010 NetType/WIFI"


@pytest.mark.parametrize(
    "user_agent, app",
    [(ANDROID_CHROME, ""), (WECHAT, "wechat"), (WECOM, "wechat_work"), (WEIBO, "weibo"), (DOUYIN, "douyin"),
     (ALIPAY, "alipay"), (FACEBOOK_IOS, "facebook"), (QQ, "qq"), ("", "")],
)
def test_the_user_agent_names_the_in_app_browser(user_agent, app):
    assert in_app_browser(user_agent) == app


def test_a_report_is_read_strictly_anything_odd_reads_as_cannot():
    full = {"camera": True, "microphone": True, "media_recorder": True, "recorder_types": ["video/webm", "video/mp4"]}
    assert Device.from_report(full, user_agent=WECHAT) == Device(
        camera=True, microphone=True, media_recorder=True, recorder_types=("video/webm", "video/mp4"),
        in_app="wechat", reported=True,
    )
    odd = {"camera": "yes", "microphone": 1, "media_recorder": True, "recorder_types": "video/webm"}
    assert Device.from_report(odd, user_agent="") == Device(camera=False, microphone=False, media_recorder=False,
                                                            reported=True)
    # A recorder that records in no type cannot record.
    assert not Device.from_report({**full, "recorder_types": []}, user_agent="").media_recorder
    many = Device.from_report({**full, "recorder_types": ["x" * 500] * 100}, user_agent="")
    assert len(many.recorder_types) == 12 and all(len(t) == 80 for t in many.recorder_types)
    # No report at all (no script ran): nothing is ruled out but by the User-Agent.
    assert Device.from_report(None, user_agent=WEIBO) == Device(in_app="weibo")
    assert Device.from_report([1, 2], user_agent="") == Device()


CAN_DO_ALL = Device(camera=True, microphone=True, media_recorder=True, recorder_types=("video/webm",), reported=True)


def test_every_registered_method_needs_a_camera_and_a_full_device_can_do_each():
    for method in REGISTRY.values():
        assert method.device_problem(CAN_DO_ALL) == "", method.name
        assert method.device_problem(Device(camera=False, reported=True)) == "no_camera", method.name


@pytest.mark.parametrize(
    "device, can_do",
    [
        (CAN_DO_ALL, {"h5", "tencent_lip", "juhe_video", "tencent_photo"}),
        (Device(camera=True, microphone=False, media_recorder=True, recorder_types=("video/webm",)),
         {"h5", "tencent_photo"}),
        (Device(camera=True, microphone=True, media_recorder=False), {"h5", "tencent_photo"}),
        # WeChat refuses the camera to our recording page (recorder.js); Jumdata's page is not known to fail there.
        (Device(camera=True, microphone=True, media_recorder=True, recorder_types=("video/mp4",), in_app="wechat"),
         {"h5"}),
        (Device(camera=True, microphone=True, media_recorder=True, recorder_types=("video/mp4",), in_app="weibo"),
         {"tencent_lip", "juhe_video", "tencent_photo"}),
    ],
)
def test_what_a_device_can_do(device, can_do):
    names = ("h5", "tencent_lip", "juhe_video", "tencent_photo")
    assert {name for name in names if not method_of(name).device_problem(device)} == can_do


def error(kind, **fields):
    return kind("test", vendor="v", endpoint="e", **fields)


@pytest.mark.parametrize(
    "failure, moves_on",
    [
        (error(CircuitOpen, reached=False, billed=False), True),
        (error(VendorConnectionError, reached=False, billed=False), True),  # refused, or no connection in time
        (error(VendorConnectionError, reached=True, billed=None), False),  # a read timeout: it may have billed
        (error(VendorResponseError, http_status=503), True),  # a proxy's 5xx page, not billed
        (error(VendorResponseError, billed=True), False),  # a 200 without its data: counted as billed
        (error(VendorRejected, code=609), True),  # Jumdata: too many requests
        (error(VendorRejected, code=601, permanent=True), False),  # not enabled: the next vendor is no cure here
        (error(VendorRejected, code=202, billed=True), False),
        (error(VendorRejected, code=400), False),
    ],
)
def test_which_failures_let_a_session_move_on(failure, moves_on):
    assert may_fall_over(failure, unavailable_codes=frozenset({609, 610})) is moves_on


def test_each_vendors_busy_codes_are_documented_codes_that_bill_nothing():
    for name, vendor in VENDORS.items():
        for code in getattr(vendor, "UNAVAILABLE_CODES", ()):
            known = vendor.describe(code)
            assert known is not vendor.UNKNOWN_CODE, (name, code)
            assert not getattr(known, "billed", False) and not known.permanent, (name, code)
