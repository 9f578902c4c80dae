"""The Jumdata H5 liveness V2 sandbox, checked against the vendor document.

The signing below is written from the document (sign = sha256(appId +
appSecret + timestamp), lower-case hex), not taken from the portal's client,
so a misreading in either shows up here.
"""

import hashlib
import re
import struct
import time
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import pytest
from django.test import Client

from sandbox.credentials import JUMDATA_APP_ID, JUMDATA_APP_SECRET
from sandbox.models import JumdataTask
from tests.support.policy import csp

pytestmark = pytest.mark.django_db

BASE = "/sandbox/jumdata"
INIT = f"{BASE}/lifecheck/h5/v2/init"
HTML = f"{BASE}/lifecheck/h5/v2/html"
RESULT = f"{BASE}/lifecheck/h5/v2/result"
FINISH = f"{BASE}/h5/finish"
FORM = "application/x-www-form-urlencoded"
RETURN_URL = "https://portal.example/kyc/return?session=abc123&step=2"


# --- Client side, from the document -------------------------------------------


def sign(app_id, app_secret, timestamp):
    return hashlib.sha256((app_id + app_secret + timestamp).encode()).hexdigest()


def now_ms(offset_seconds=0):
    return str(int((time.time() + offset_seconds) * 1000))


def common(**overrides):
    """The common parameters, correctly signed; None in overrides drops one."""
    timestamp = now_ms()
    params = {
        "appId": JUMDATA_APP_ID,
        "timestamp": timestamp,
        "sign": sign(JUMDATA_APP_ID, JUMDATA_APP_SECRET, timestamp),
    }
    params.update(overrides)
    return {name: value for name, value in params.items() if value is not None}


def post_form(client, path, params):
    return client.post(path, urlencode(params), content_type=FORM)


def call_init(client, **business):
    business.setdefault("returnUrl", RETURN_URL)
    params = {**common(), **business}
    response = post_form(client, INIT, {name: value for name, value in params.items() if value is not None})
    assert response.status_code == 200
    return response.json()


def start_check(client, **business):
    body = call_init(client, **business)
    assert body["code"] == 200, body
    return body["data"]["token"]


def call_result(client, token, **overrides):
    response = post_form(client, RESULT, {**common(**overrides), "token": token})
    assert response.status_code == 200
    return response.json()


def press(client, token, outcome):
    return client.post(FINISH, {"token": token, "outcome": outcome})


def assert_refused(body, *words):
    assert body["code"] == 400, body
    assert body["charge"] is False
    assert re.fullmatch(r"[0-9]{24}", body["taskNo"])
    for word in words:
        assert word in body["msg"], (word, body["msg"])


def age(token, seconds):
    task = JumdataTask.objects.get(token=token)
    JumdataTask.objects.filter(pk=task.pk).update(created_at=task.created_at - timedelta(seconds=seconds))


def jpeg_size(data):
    """(width, height) from a baseline JPEG's SOF0 segment."""
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    position = 2
    while position < len(data):
        marker, length = struct.unpack(">HH", data[position : position + 4])
        if marker == 0xFFC0:
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return width, height
        position += 2 + length
    raise AssertionError("no SOF0 segment")


# --- init ----------------------------------------------------------------------


def test_it_hands_out_a_billed_token_on_init():
    body = call_init(Client(), actions="LookFront,BlinkEye", colors="#FFFFFF,#000000")

    assert body["code"] == 200
    assert body["msg"] == "成功"
    assert body["charge"] is True
    assert re.fullmatch(r"[0-9]{24}", body["taskNo"])
    assert body["data"]["token"]
    assert list(body) == ["code", "msg", "taskNo", "charge", "data"]


def test_it_accepts_server_to_server_calls_without_a_csrf_token():
    client = Client(enforce_csrf_checks=True)
    token = start_check(client)

    assert press(client, token, "pass").status_code == 302
    assert call_result(client, token)["code"] == 200


# --- The emulated page ---------------------------------------------------------


def test_it_shows_the_page_with_the_sandbox_banner_and_four_buttons(client):
    token = start_check(client, actions="LookFront,LookLeft,NodHead", colors="#FFD9E3,#060D3C")

    response = client.get(HTML, {"token": token})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "SANDBOX" in page and "no real check happens" in page
    for button in ("sandbox-pass", "sandbox-fail", "sandbox-error", "sandbox-abandon"):
        assert f'id="{button}"' in page
    assert page.index("LookFront") < page.index("LookLeft") < page.index("NodHead")
    assert "#FFD9E3" in page and "#060D3C" in page
    assert f'value="{token}"' in page
    assert 'action="/sandbox/jumdata/h5/finish"' in page


def test_the_page_may_be_framed_like_a_vendor_page_without_a_framing_policy(client):
    token = start_check(client)

    page = client.get(HTML, {"token": token})

    assert "X-Frame-Options" not in page
    assert csp(page)["frame-ancestors"] == ["*"]


def test_it_sends_the_browser_back_to_the_return_url_unchanged(client):
    token = start_check(client)

    response = press(client, token, "pass")

    assert response.status_code == 302
    assert response["Location"] == RETURN_URL


def test_it_answers_an_html_error_page_for_an_unknown_token(client):
    response = client.get(HTML, {"token": "not-a-token"})

    assert response.status_code == 200  # the vendor puts outcomes in the body
    assert response["Content-Type"].startswith("text/html")
    assert "Unknown token" in response.content.decode()
    assert 'id="sandbox-pass"' not in response.content.decode()


def test_it_answers_an_html_error_page_for_an_expired_token(client):
    token = start_check(client)
    age(token, 601)

    response = client.get(HTML, {"token": token})

    assert "token expired" in response.content.decode()
    assert 'id="sandbox-pass"' not in response.content.decode()


def test_it_records_nothing_for_an_unknown_outcome(client):
    token = start_check(client)

    response = press(client, token, "maybe")

    assert response.status_code == 400
    assert "outcome must be one of" in response.content.decode()
    assert call_result(client, token)["code"] == 201


def test_it_records_nothing_for_an_unknown_token_on_the_page(client):
    response = press(client, "not-a-token", "pass")

    assert response.status_code == 404
    assert not JumdataTask.objects.exclude(outcome="").exists()


# --- result --------------------------------------------------------------------


def test_it_reports_no_result_before_the_page_is_used(client):
    token = start_check(client)

    body = call_result(client, token)

    assert body["code"] == 201
    assert body["msg"] == "未查询到检测结果"
    assert body["charge"] is False


def test_it_reports_a_pass_with_a_fetchable_face_image(client):
    token = start_check(client)
    press(client, token, "pass")

    body = call_result(client, token)

    assert body["code"] == 200
    assert body["msg"] == "活体检测通过"
    assert body["charge"] is True
    url = urlsplit(body["data"]["faceImageUrl"])
    assert url.scheme == "http" and url.netloc == "testserver"
    assert token not in url.path and body["taskNo"] not in url.path
    image = client.get(url.path)
    assert image.status_code == 200
    assert image["Content-Type"] == "image/jpeg"
    assert jpeg_size(image.content) == (240, 320)


def test_it_reports_not_passed_and_bills_it(client):
    token = start_check(client)
    press(client, token, "fail")

    body = call_result(client, token)

    assert body["code"] == 202
    assert body["msg"] == "活体检测未通过"
    assert body["charge"] is True
    assert "data" not in body


def test_it_reports_a_failed_check_without_billing_it(client):
    token = start_check(client)
    press(client, token, "error")

    body = call_result(client, token)

    assert body["code"] == 203
    assert body["msg"] == "检测失败"
    assert body["charge"] is False


def test_it_reports_no_result_when_the_user_left_without_finishing(client):
    token = start_check(client)
    assert press(client, token, "abandon")["Location"] == RETURN_URL

    body = call_result(client, token)

    assert body["code"] == 201
    assert body["charge"] is False


def test_it_keeps_the_first_outcome_when_a_button_is_pressed_twice(client):
    token = start_check(client)
    press(client, token, "pass")

    second = press(client, token, "fail")

    assert second.status_code == 302
    assert call_result(client, token)["code"] == 200
    assert "already recorded" in client.get(HTML, {"token": token}).content.decode()


def test_it_keeps_leaving_final_too(client):
    token = start_check(client)
    press(client, token, "abandon")
    press(client, token, "pass")

    assert call_result(client, token)["code"] == 201


def test_it_answers_301_once_the_token_has_lived_ten_minutes(client):
    token = start_check(client)
    press(client, token, "pass")
    assert call_result(client, token)["code"] == 200
    age(token, 600)

    body = call_result(client, token)

    assert body["code"] == 301
    assert body["msg"] == "token已过期"
    assert body["charge"] is False


def test_it_reads_the_token_life_from_settings(client, settings):
    settings.SANDBOX_JUMDATA_TOKEN_TTL = 30
    token = start_check(client)
    age(token, 31)

    assert call_result(client, token)["code"] == 301
    assert press(client, token, "pass").status_code == 410


def test_it_gives_every_answer_a_fresh_task_number(client):
    init_body = call_init(client)
    token = init_body["data"]["token"]

    numbers = {
        init_body["taskNo"],
        call_result(client, token)["taskNo"],
        call_result(client, token)["taskNo"],
    }

    assert len(numbers) == 3


def test_it_refuses_an_unknown_token_on_result(client):
    assert_refused(call_result(client, "not-a-token"), "unknown token")


def test_it_refuses_a_result_call_without_a_token(client):
    assert_refused(post_form(client, RESULT, common()).json(), "token is missing")


def test_it_serves_no_face_image_for_a_check_that_did_not_pass(client):
    token = start_check(client)
    press(client, token, "fail")
    face_token = JumdataTask.objects.get(token=token).face_token

    assert client.get(f"{BASE}/face/{face_token}.jpg").status_code == 404


# --- Bad requests: code 400, a message that names the problem -----------------


def test_it_refuses_a_wrong_sign(client):
    assert_refused(call_init(client, sign="0" * 64), "sign")


def test_it_refuses_an_upper_case_sign(client):
    timestamp = now_ms()
    upper = sign(JUMDATA_APP_ID, JUMDATA_APP_SECRET, timestamp).upper()

    assert_refused(call_init(client, timestamp=timestamp, sign=upper), "sign", "lower-case")


def test_it_refuses_a_sign_made_with_another_secret(client):
    timestamp = now_ms()

    assert_refused(
        call_init(client, timestamp=timestamp, sign=sign(JUMDATA_APP_ID, "guess", timestamp)), "sign"
    )


@pytest.mark.parametrize("name", ["appId", "timestamp", "sign"])
def test_it_refuses_a_missing_common_parameter(client, name):
    params = {**common(), "returnUrl": RETURN_URL}
    del params[name]

    assert_refused(post_form(client, INIT, params).json(), f"common parameter {name}")


def test_it_refuses_a_timestamp_in_seconds(client):
    timestamp = str(int(time.time()))

    assert_refused(
        call_init(client, timestamp=timestamp, sign=sign(JUMDATA_APP_ID, JUMDATA_APP_SECRET, timestamp)),
        "timestamp",
        "13 digits",
    )


def test_it_refuses_a_timestamp_outside_five_minutes(client):
    timestamp = now_ms(-301)

    assert_refused(
        call_init(client, timestamp=timestamp, sign=sign(JUMDATA_APP_ID, JUMDATA_APP_SECRET, timestamp)),
        "timestamp",
        "±300 s",
    )


def test_it_reads_the_clock_skew_from_settings(client, settings):
    settings.SANDBOX_CLOCK_SKEW_SECONDS = 10
    timestamp = now_ms(60)

    assert_refused(
        call_init(client, timestamp=timestamp, sign=sign(JUMDATA_APP_ID, JUMDATA_APP_SECRET, timestamp)),
        "±10 s",
    )


def test_it_refuses_an_unknown_app_id(client):
    timestamp = now_ms()

    assert_refused(
        call_init(
            client,
            appId="someone-else",
            timestamp=timestamp,
            sign=sign("someone-else", JUMDATA_APP_SECRET, timestamp),
        ),
        "unknown appId",
    )


def test_it_refuses_a_missing_return_url(client):
    assert_refused(call_init(client, returnUrl=None), "returnUrl is missing")


def test_it_refuses_a_return_url_over_128_characters(client):
    exact = "https://portal.example/" + "a" * (128 - len("https://portal.example/"))
    assert call_init(client, returnUrl=exact)["code"] == 200

    assert_refused(call_init(client, returnUrl=exact + "a"), "returnUrl", "129 characters", "128")


@pytest.mark.parametrize(
    "url", ["ftp://portal.example/back", "//portal.example/back", "HTTPS://portal.example/"]
)
def test_it_refuses_a_return_url_that_is_not_http_or_https(client, url):
    assert_refused(call_init(client, returnUrl=url), "returnUrl must start with http:// or https://")


def test_it_refuses_a_return_url_without_a_host(client):
    assert_refused(call_init(client, returnUrl="https://"), "returnUrl is not a valid URL")


def test_it_refuses_an_unknown_action(client):
    assert_refused(call_init(client, actions="LookFront,Smile"), "actions", "'Smile'", "LookFront")


def test_it_refuses_an_action_in_the_wrong_case(client):
    assert_refused(call_init(client, actions="lookfront"), "'lookfront'", "case-sensitive")


def test_it_refuses_an_unknown_colour(client):
    assert_refused(call_init(client, colors="#FFFFFF,#123456"), "colors", "'#123456'")


def test_it_refuses_a_colour_in_lower_case_hex(client):
    assert_refused(call_init(client, colors="#ffffff,#000000"), "'#ffffff'", "upper-case")


def test_it_refuses_colours_without_a_dark_one(client):
    assert_refused(call_init(client, colors="#FFFFFF,#FFD9E3"), "light colour", "dark colour")


def test_it_refuses_a_single_colour(client):
    assert_refused(call_init(client, colors="#000000"), "light colour", "dark colour")


def test_it_refuses_colours_with_an_action_but_without_look_front(client):
    assert_refused(call_init(client, colors="#FFFFFF,#000000", actions="LookLeft"), "must include LookFront")


def test_it_accepts_colours_with_actions_when_look_front_is_among_them(client):
    assert call_init(client, colors="#FFFFFF,#000000", actions="LookLeft,LookFront")["code"] == 200
    assert call_init(client, colors="#FFFFFF,#000000", actions="LookFront")["code"] == 200
    assert call_init(client, colors="#FFFFFF,#000000")["code"] == 200
    assert call_init(client, actions="LookLeft")["code"] == 200


def test_it_refuses_an_empty_item_in_actions(client):
    assert_refused(call_init(client, actions="LookFront,,LookLeft"), "actions has an empty item")


def test_it_refuses_an_empty_item_in_colours(client):
    assert_refused(call_init(client, colors="#FFFFFF,#000000,"), "colors has an empty item")


def test_it_refuses_spaces_around_the_commas(client):
    assert_refused(call_init(client, actions="LookFront, LookLeft"), "' LookLeft'")


def test_it_refuses_an_empty_list(client):
    assert_refused(call_init(client, actions=""), "actions is empty")


def test_it_refuses_a_repeated_action(client):
    assert_refused(
        call_init(client, actions="LookLeft,LookFront,LookLeft"), "LookLeft is given more than once"
    )


def test_it_refuses_a_repeated_colour(client):
    assert_refused(call_init(client, colors="#FFFFFF,#000000,#FFFFFF"), "#FFFFFF is given more than once")


def test_it_refuses_a_repeated_parameter(client):
    body = urlencode({**common(), "returnUrl": RETURN_URL}) + "&returnUrl=https%3A%2F%2Fother.example%2F"

    assert_refused(client.post(INIT, body, content_type=FORM).json(), "returnUrl is given 2 times")


def test_it_accepts_a_charset_on_the_form_content_type(client):
    body = urlencode({**common(), "returnUrl": RETURN_URL})

    response = client.post(INIT, body, content_type=f"{FORM}; charset=UTF-8")

    assert response.json()["code"] == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"


def test_it_refuses_a_json_body(client):
    response = client.post(INIT, {**common(), "returnUrl": RETURN_URL}, content_type="application/json")

    assert response.status_code == 200
    assert_refused(response.json(), "Content-Type", FORM)


def test_it_refuses_a_multipart_body(client):
    response = client.post(INIT, {**common(), "returnUrl": RETURN_URL})  # the test client's default

    assert_refused(response.json(), "Content-Type", "multipart/form-data")


def test_it_refuses_parameters_in_the_query_string(client):
    query = urlencode(common())

    response = client.post(f"{INIT}?{query}", urlencode({"returnUrl": RETURN_URL}), content_type=FORM)

    assert_refused(response.json(), "query string", "appId")


def test_it_refuses_a_bad_sign_on_result_too(client):
    token = start_check(client)

    assert_refused(call_result(client, token, sign="f" * 64), "sign")


def test_it_refuses_another_apps_token(client):
    token = start_check(client)
    JumdataTask.objects.filter(token=token).update(app_id="another-app")

    assert_refused(call_result(client, token), "unknown token")


# --- Transport ------------------------------------------------------------------


@pytest.mark.parametrize("path", [INIT, RESULT])
def test_it_answers_405_with_a_vendor_body_to_a_get(client, path):
    response = client.get(path)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert_refused(response.json(), "only accepts POST")


@pytest.mark.parametrize(
    "path", [f"{BASE}/lifecheck/h5/v1/init", f"{BASE}/lifecheck/h5/v2/init/", f"{BASE}/nothing", BASE]
)
def test_it_answers_code_404_for_an_unknown_path(client, path):
    response = client.post(path, urlencode(common()), content_type=FORM)

    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 404
    assert body["msg"] == "接口地址不正确"
    assert body["charge"] is False
