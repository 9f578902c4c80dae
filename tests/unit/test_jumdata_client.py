"""The Jumdata client against a scripted stand-in for faults, and against an
independent reading of document 004 for the exact shape of each request (no
database: each call's record is kept by a recorder). Over real HTTP against
the sandbox: tests/sandbox/test_jumdata_client.py."""

import hashlib
import json
import time
from urllib.parse import parse_qs

import pytest

from verification.vendors import jumdata
from verification.vendors.base import VendorConnectionError, VendorRejected, VendorResponseError, should_retry

from tests.support.http_double import slow

RETURN_URL = "https://portal.example/v/abc/h5/return"


def client_for(base_url, **kwargs):
    return jumdata.JumdataClient(
        base_url=base_url,
        app_id=kwargs.get("app_id", "sandbox-jumdata-app"),
        app_secret=kwargs.get("app_secret", "sandbox-jumdata-secret"),
        timeout=kwargs.get("timeout", (2, 5)),
        recorder=kwargs.get("recorder"),
    )


def test_it_refuses_a_return_url_jumdata_would_refuse_without_calling(jumdata_double):
    with pytest.raises(ValueError, match="128"):
        client_for(jumdata_double.url).init(return_url="https://x.example/" + "a" * 120)
    assert jumdata_double.requests == []


# --- the exact requests (an independent reading of document 003) -------------------


def jumdata_reply(body):
    return lambda request: (200, {"Content-Type": "application/json;charset=UTF-8"}, json.dumps(body).encode())


def test_init_sends_exactly_the_documented_form(jumdata_double):
    jumdata_double.respond = jumdata_reply(
        {"code": 200, "msg": "成功", "taskNo": "043439882226367117195632", "charge": True, "data": {"token": "t-1"}}
    )
    before = int(time.time() * 1000)

    client_for(jumdata_double.url, app_id="xyzxy2121zxyz", app_secret="efcefcef1121cefcefc1212121").init(
        return_url=RETURN_URL, actions=["LookFront", "OpenMouth"], colors=["#ffffff", "#000000"]
    )

    (request,) = jumdata_double.requests
    assert (request.method, request.path) == ("POST", "/lifecheck/h5/v2/init")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = {k: v[0] for k, v in parse_qs(request.body.decode(), strict_parsing=True).items()}
    assert set(form) == {"appId", "timestamp", "sign", "returnUrl", "actions", "colors"}
    assert form["appId"] == "xyzxy2121zxyz"
    assert len(form["timestamp"]) == 13 and before <= int(form["timestamp"]) <= int(time.time() * 1000)
    expected_sign = hashlib.sha256(("xyzxy2121zxyz" + "efcefcef1121cefcefc1212121" + form["timestamp"]).encode())
    assert form["sign"] == expected_sign.hexdigest()
    assert form["returnUrl"] == RETURN_URL
    assert form["actions"] == "LookFront,OpenMouth"
    assert form["colors"] == "#FFFFFF,#000000"


def test_init_without_options_sends_no_empty_fields(jumdata_double):
    jumdata_double.respond = jumdata_reply({"code": 200, "taskNo": "1", "charge": True, "data": {"token": "t"}})

    client_for(jumdata_double.url).init(return_url=RETURN_URL)

    form = parse_qs(jumdata_double.requests[0].body.decode())
    assert set(form) == {"appId", "timestamp", "sign", "returnUrl"}


def test_result_sends_the_token_with_the_common_parameters(jumdata_double):
    jumdata_double.respond = jumdata_reply({"code": 201, "msg": "未查询到检测结果", "taskNo": "2"})

    client_for(jumdata_double.url).fetch_result("tok en/+")

    (request,) = jumdata_double.requests
    assert (request.method, request.path) == ("POST", "/lifecheck/h5/v2/result")
    form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
    assert set(form) == {"appId", "timestamp", "sign", "token"}
    assert form["token"] == "tok en/+"


def test_the_html_page_url_carries_only_the_token():
    client = client_for("https://api.jumdata.com")
    assert client.html_url("a+b/c") == "https://api.jumdata.com/lifecheck/h5/v2/html?token=a%2Bb%2Fc"


# --- every documented code ----------------------------------------------------


@pytest.mark.parametrize("code", sorted(c for c, known in jumdata.CODES.items() if known.outcome is None))
def test_every_error_code_is_a_typed_refusal_with_a_message(jumdata_double, code):
    jumdata_double.respond = jumdata_reply({"code": code, "msg": "x", "taskNo": "9", "charge": False})

    with pytest.raises(VendorRejected) as refused:
        client_for(jumdata_double.url).fetch_result("t")

    assert refused.value.code == code
    assert refused.value.permanent == (code in {400, 404, 601, 602, 604, 607})
    assert refused.value.billed is False
    described = jumdata.describe(code)
    assert described.meaning and str(described.message)
    retried = should_retry(refused.value, retryable_codes=jumdata.RESULT_RETRY_CODES, billed_call=False)
    assert retried == (code in {609, 610})


def test_an_unknown_code_is_refused_not_guessed(jumdata_double):
    jumdata_double.respond = jumdata_reply({"code": 777, "msg": "?"})
    with pytest.raises(VendorRejected) as refused:
        client_for(jumdata_double.url).fetch_result("t")
    assert refused.value.code == 777 and not refused.value.permanent


# --- faults ------------------------------------------------------------------------


def test_an_html_page_instead_of_json_is_a_response_error(jumdata_double, calls):
    jumdata_double.respond = lambda r: (200, {"Content-Type": "text/html"}, b"<html>maintenance</html>")

    with pytest.raises(VendorResponseError):
        client_for(jumdata_double.url, recorder=calls).fetch_result("t")

    call = calls.get()
    assert call.http_status == 200 and "non-JSON" in call.error


def test_garbage_is_a_response_error(jumdata_double):
    jumdata_double.respond = lambda r: (200, {"Content-Type": "application/json"}, b"\x00\xff{not json")
    with pytest.raises(VendorResponseError):
        client_for(jumdata_double.url).fetch_result("t")


def test_json_that_is_not_an_object_is_a_response_error(jumdata_double):
    jumdata_double.respond = lambda r: (200, {"Content-Type": "application/json"}, b"[1, 2]")
    with pytest.raises(VendorResponseError):
        client_for(jumdata_double.url).fetch_result("t")


def test_a_5xx_is_a_retryable_response_error(jumdata_double):
    jumdata_double.respond = lambda r: (502, {"Content-Type": "text/html"}, b"bad gateway")

    with pytest.raises(VendorResponseError) as failed:
        client_for(jumdata_double.url).fetch_result("t")

    assert failed.value.http_status == 502
    assert should_retry(failed.value, retryable_codes=jumdata.RESULT_RETRY_CODES, billed_call=False)


def test_init_answering_200_without_a_token_is_a_billed_response_error(jumdata_double):
    jumdata_double.respond = jumdata_reply({"code": 200, "taskNo": "1", "charge": True, "data": {}})
    with pytest.raises(VendorResponseError) as failed:
        client_for(jumdata_double.url).init(return_url=RETURN_URL)
    assert failed.value.billed is True


def test_a_read_timeout_may_have_reached_the_vendor(jumdata_double, calls):
    jumdata_double.respond = slow(2, jumdata_reply({"code": 200}))

    with pytest.raises(VendorConnectionError) as failed:
        client_for(jumdata_double.url, timeout=(1, 0.3), recorder=calls).init(return_url=RETURN_URL)

    assert failed.value.reached is True and failed.value.billed is None
    assert not should_retry(failed.value, billed_call=True), "a billed init is never sent twice"
    call = calls.get()
    assert call.billed is None and "ReadTimeout" in call.error


def test_a_refused_connection_never_reached_the_vendor():
    with pytest.raises(VendorConnectionError) as failed:
        client_for("http://127.0.0.1:9").fetch_result("t")

    assert failed.value.reached is False and failed.value.billed is False
    assert should_retry(failed.value, billed_call=True)


# --- options ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "actions, colors, problem",
    [
        (["Jump"], [], "actions"),
        ([], ["#123456", "#000000"], "colors"),
        ([], ["#FFFFFF", "#FFD9E3"], "colors"),
        ([], ["#000000"], "colors"),
        (["BlinkEye"], ["#FFFFFF", "#000000"], "actions"),
    ],
)
def test_options_jumdata_would_refuse_are_caught_first(actions, colors, problem):
    assert problem in jumdata.options_errors(actions=actions, colors=colors)


@pytest.mark.parametrize(
    "actions, colors",
    [([], []), (["LookFront", "BlinkEye"], ["#ffffff", "#3C0636"]), (["ShakeHead", "NodHead"], []), ([], ["#FFFFFF", "#000000"])],
)
def test_options_jumdata_accepts_pass(actions, colors):
    assert jumdata.options_errors(actions=actions, colors=colors) == {}
