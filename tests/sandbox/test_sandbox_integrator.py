"""The demo integrator (sandbox/integrator.py): an emulated product team with
a page on another origin, a backend calling the portal's API over HTTP, a
return page and a Standard Webhooks receiver.

Webhooks are signed here by a small signer written from the Standard
Webhooks spec, not taken from the portal or the receiver, so a mistake in
either shows up.
"""

import base64
import hashlib
import hmac
import json
import re
import socket
import time
import uuid

import pytest
import requests
from django.test import Client
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from sandbox.integrator_account import CLIENT_NAME, integrator_origin, keep_account
from sandbox.models import IntegratorAccount, JumdataTask, ReceivedWebhook, WebhookOutage
from tests.support.browser import wait
from tests.support.http_double import HttpDouble
from tests.support.policy import csp
from verification.models import ApiClient, VerificationSession

pytestmark = pytest.mark.django_db

BASE = "/sandbox/integrator"
PAGE = f"{BASE}/"
SESSIONS = f"{BASE}/sessions"
RETURN = f"{BASE}/return"
WEBHOOKS = f"{BASE}/webhooks"
FAIL_NEXT = f"{BASE}/webhooks/fail-next"
WEBHOOKS_JSON = f"{BASE}/webhooks.json"

# A portal on a fixed address for the tests without a live server: the
# integrator is then http://localhost:8000.
PORTAL = "http://127.0.0.1:8000"
INTEGRATOR_HOST = "localhost:8000"


@pytest.fixture
def portal_at_fixed_address(settings):
    settings.SITE_URL = PORTAL
    return settings


@pytest.fixture
def integrator_client(sandbox):
    """The portal's API client for the demo integrator, for the live server's
    SITE_URL (the sandbox renews its account after every migrate; this does
    what the next migrate would)."""
    keep_account()
    return ApiClient.objects.get(name=CLIENT_NAME)


def demo_secret():
    """The signing secret the demo's receiver checks, as the sandbox keeps it."""
    return IntegratorAccount.current().webhook_secret


def integrator_url(live_server, path):
    return integrator_origin(live_server.url) + path


def create_session(live_server, method="h5", mode="iframe"):
    response = requests.post(
        integrator_url(live_server, SESSIONS), json={"method": method, "mode": mode}, timeout=(3, 20)
    )
    assert response.status_code == 201, response.text
    return response.json()


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- Standard Webhooks, from the spec -------------------------------------------------


def sign(secret, msg_id, timestamp, body):
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def completed_event(session_id="5b1f0c1e-8d3a-4b7e-9a51-3f7a2c6d9e10", sequence=1, status="passed"):
    event = {
        "type": "session.completed",
        "timestamp": "2026-11-22T04:24:00.123456+00:00",
        "data": {"session_id": session_id, "external_ref": "order-42", "method": "h5", "status": status,
                 "review_status": "not_needed", "passed": status == "passed", "reason": status,
                 "vendor_code": "200", "sequence": sequence},
    }
    return json.dumps(event, separators=(",", ":")).encode()


def deliver(client, body=None, *, msg_id="msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", timestamp=None, secret=None,
            signature=None, drop=()):
    """POSTs one delivery as the portal would; `drop` leaves headers out."""
    body = completed_event() if body is None else body
    timestamp = str(int(time.time())) if timestamp is None else str(timestamp)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": signature or sign(secret or demo_secret(), msg_id, timestamp, body),
    }
    headers = {name: value for name, value in headers.items() if name not in drop}
    return client.post(WEBHOOKS, data=body, content_type="application/json", headers=headers)


# --- the page ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", [f"{PAGE}?method=h5", f"{RETURN}?session_id={uuid.UUID(int=7)}"])
def test_the_pages_redirect_to_the_integrator_origin_when_opened_on_the_portals(
    client, portal_at_fixed_address, path
):
    response = client.get(path, HTTP_HOST="127.0.0.1:8000")

    assert response.status_code == 302
    assert response["Location"] == f"http://{INTEGRATOR_HOST}{path}"


def test_the_portals_landing_page_links_the_integrator_which_moves_to_its_own_origin(
    client, portal_at_fixed_address
):
    landing = client.get("/", HTTP_HOST="127.0.0.1:8000").content.decode()
    link = re.search(r'<a id="integrator-link" href="([^"]+)"', landing).group(1)

    response = client.get(link, HTTP_HOST="127.0.0.1:8000")

    assert link == PAGE
    assert (response.status_code, response["Location"]) == (302, f"http://{INTEGRATOR_HOST}{PAGE}")


def test_the_page_on_the_integrator_origin_renders_the_portal_origin_for_the_message_check(
    client, portal_at_fixed_address
):
    response = client.get(PAGE, HTTP_HOST=INTEGRATOR_HOST)

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    config_script = re.search(r'<script id="integrator-config" type="application/json">(.*?)</script>', html)
    config = json.loads(config_script.group(1))
    assert config["portalOrigin"] == PORTAL
    assert 'event.origin !== PORTAL_ORIGIN || !event.data || event.data.source !== "kyc-portal"' in html
    assert "SANDBOX demo integrator" in html
    assert 'id="start"' in html and 'id="events"' in html and 'id="webhooks"' in html
    for method in ("h5", "tencent_lip", "tencent_idcard", "juhe_video", "juhe_video_auth", "tencent_photo"):
        assert f'<option value="{method}">' in html
    assert '<option value="iframe">' in html and '<option value="redirect">' in html


def test_the_page_lets_its_iframe_have_the_camera(client, portal_at_fixed_address):
    response = client.get(PAGE, HTTP_HOST=INTEGRATOR_HOST)

    # The portal's own pages deny the camera to frames; this page must not.
    assert response["Permissions-Policy"] == "camera=*, microphone=*"


# --- the backend -------------------------------------------------------------------------


def test_the_backend_creates_a_session_over_real_http_through_the_portal_api(integrator_client, sandbox):
    created = create_session(sandbox, method="h5", mode="iframe")

    session = VerificationSession.objects.get(pk=created["id"])
    assert session.client == integrator_client
    assert session.method == "h5"
    assert re.fullmatch(r"integrator-demo-[0-9a-f]{8}", session.external_ref)
    assert session.return_url == integrator_url(sandbox, RETURN)
    assert created["url"].startswith(f"{sandbox.url}/v/")
    # What the portal's answer says, passed on: the H5 page needs the camera
    # on the vendor's origin too.
    assert created["iframe_allow"].startswith("camera 'src' ")


def test_the_backend_sends_the_sandbox_identity_for_methods_that_check_one(integrator_client, sandbox):
    created = create_session(sandbox, method="juhe_video_auth", mode="redirect")

    session = VerificationSession.objects.get(pk=created["id"])
    assert session.method == "juhe_video_auth"
    assert created["iframe_allow"] == "camera; microphone"


@pytest.mark.parametrize(
    "method, locale, extra",
    [
        ("h5", None, {}),
        ("h5", "en", {"locale": "en"}),
        ("tencent_lip", None, {}),
        ("tencent_photo", "zh-hans", {"locale": "zh-hans"}),
        ("tencent_idcard", None, {"realname": "张三", "idcard": "11010519491231002X"}),
        ("juhe_video_auth", None, {"realname": "张三", "idcard": "11010519491231002X"}),
        ("juhe_video", None, {"options": {"liveness_type": 1}}),
    ],
)
def test_the_backend_sends_what_a_product_teams_server_would(client, settings, method, locale, extra):
    with HttpDouble() as portal:
        settings.SITE_URL = portal.url
        answer = {"id": str(uuid.uuid4()), "url": f"{portal.url}/v/abc/", "status": "created"}
        answer_json = json.dumps(answer).encode()
        portal.respond = lambda request: (201, {"Content-Type": "application/json"}, answer_json)

        wanted = {"method": method, "mode": "iframe", **({"locale": locale} if locale else {})}
        response = client.post(SESSIONS, wanted, content_type="application/json")

    assert response.status_code == 201
    # No iframe_allow in this answer: the backend falls back to camera and microphone.
    assert response.json() == {"id": answer["id"], "url": answer["url"], "iframe_allow": "camera; microphone"}
    [sent] = portal.requests
    assert (sent.method, sent.path) == ("POST", "/api/v1/sessions")
    assert sent.headers["Authorization"] == f"Bearer {IntegratorAccount.current().api_key}"
    assert sent.headers["Content-Type"] == "application/json"
    body = json.loads(sent.body)
    assert body.pop("external_ref").startswith("integrator-demo-")
    assert body == {"method": method, "return_url": f"{integrator_origin(portal.url)}{RETURN}", **extra}


def test_the_backend_passes_the_portals_error_through(integrator_client, sandbox):
    ApiClient.objects.filter(pk=integrator_client.pk).update(is_active=False)

    response = requests.post(
        integrator_url(sandbox, SESSIONS), json={"method": "h5", "mode": "iframe"}, timeout=20
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_without_an_account_the_backend_says_to_migrate_and_calls_nothing(client, settings):
    IntegratorAccount.objects.all().delete()
    with HttpDouble() as portal:
        settings.SITE_URL = portal.url

        response = client.post(SESSIONS, {"method": "h5", "mode": "iframe"}, content_type="application/json")

    assert response.status_code == 502
    assert response.json()["error"] == {
        "code": "portal_unreachable",
        "message": "the sandbox holds no API key for the demo yet: run `python manage.py migrate`",
    }
    assert portal.requests == []


def test_the_backend_answers_502_when_the_portal_cannot_be_reached(client, settings):
    settings.SITE_URL = f"http://127.0.0.1:{closed_port()}"

    response = client.post(SESSIONS, {"method": "h5", "mode": "iframe"}, content_type="application/json")

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "portal_unreachable"


def test_the_backend_answers_502_when_the_portal_answers_without_json(client, settings):
    with HttpDouble() as portal:
        settings.SITE_URL = portal.url
        portal.respond = lambda request: (500, {"Content-Type": "text/html"}, b"<h1>Server Error</h1>")

        response = client.post(SESSIONS, {"method": "h5", "mode": "iframe"}, content_type="application/json")

    assert response.status_code == 502
    assert "HTTP 500" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "body, field",
    [
        ("not json", None),
        ("[]", None),
        ('{"mode": "iframe"}', "method"),
        ('{"method": "selfie", "mode": "iframe"}', "method"),
        ('{"method": "h5", "mode": "popup"}', "mode"),
        ('{"method": "h5"}', "mode"),
        ('{"method": ["h5"], "mode": "iframe"}', "method"),
        ('{"method": "h5", "mode": "iframe", "locale": "fr"}', "locale"),
    ],
)
def test_the_backend_refuses_bad_input_without_calling_the_portal(client, settings, body, field):
    with HttpDouble() as portal:
        settings.SITE_URL = portal.url

        response = client.post(SESSIONS, body, content_type="application/json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == ("malformed_json" if field is None else "invalid_request")
    if field:
        assert field in error["fields"]
    assert portal.requests == []


def test_the_backend_answers_only_post_for_sessions(client):
    response = client.get(SESSIONS)

    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_the_backend_fetches_a_session_through_the_portal_api(integrator_client, sandbox):
    created = create_session(sandbox)

    response = requests.get(integrator_url(sandbox, f"{SESSIONS}/{created['id']}"), timeout=20)

    assert response.status_code == 200
    assert response.json()["id"] == created["id"]
    assert response.json()["status"] == "created"
    assert response.headers["Cache-Control"] == "no-store"


def test_the_backend_passes_on_the_portals_404_for_an_unknown_session(integrator_client, sandbox):
    response = requests.get(integrator_url(sandbox, f"{SESSIONS}/{uuid.uuid4()}"), timeout=20)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# --- the return page -----------------------------------------------------------------------


def test_the_return_page_fetches_the_outcome_from_the_api(integrator_client, sandbox):
    created = create_session(sandbox, mode="redirect")
    VerificationSession.objects.filter(pk=created["id"]).update(
        status="failed", passed=False, reason="not_passed"
    )

    # Anything in the URL but the session id is ignored.
    response = requests.get(
        integrator_url(sandbox, RETURN), params={"session_id": created["id"], "status": "passed"}, timeout=20
    )

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.text
    assert "Back in the integrator's app" in html
    assert f'<code id="session-id">{created["id"]}</code>' in html
    assert '<dd id="outcome-status">failed</dd>' in html
    assert '<dd id="outcome-review-status">not_needed</dd>' in html
    assert '<dd id="outcome-passed">false</dd>' in html
    assert '<dd id="outcome-reason">not_passed</dd>' in html


@pytest.mark.parametrize("query", ["", "?session_id=", "?session_id=not-a-uuid"])
def test_the_return_page_refuses_a_missing_session_id(client, portal_at_fixed_address, query):
    response = client.get(f"{RETURN}{query}", HTTP_HOST=INTEGRATOR_HOST)

    assert response.status_code == 400
    assert "needs ?session_id=" in response.content.decode()


def test_the_return_page_says_when_the_portal_does_not_know_the_session(integrator_client, sandbox):
    response = requests.get(
        integrator_url(sandbox, RETURN), params={"session_id": str(uuid.uuid4())}, timeout=20
    )

    assert response.status_code == 404
    assert "HTTP 404" in response.text


# --- the webhook receiver ------------------------------------------------------------------


def test_a_correctly_signed_webhook_is_stored_verified_and_answered_204(client):
    body = completed_event(session_id="5b1f0c1e-8d3a-4b7e-9a51-3f7a2c6d9e10", sequence=3, status="failed")

    response = deliver(client, body, msg_id="msg_first")

    assert response.status_code == 204
    [row] = ReceivedWebhook.objects.all()
    assert row.msg_id == "msg_first"
    assert row.body == body.decode()
    assert (row.event_type, row.session_id, row.sequence, row.status) == (
        "session.completed", "5b1f0c1e-8d3a-4b7e-9a51-3f7a2c6d9e10", 3, "failed"
    )
    assert row.signature_header.startswith("v1,")
    assert (row.verified, row.duplicate, row.problem, row.answered_status) == (True, False, "", 204)


def tampered(client):
    """Signed as a pass, then edited into a failure on the way."""
    body = completed_event(status="passed")
    timestamp = str(int(time.time()))
    signature = sign(demo_secret(), "msg_x", timestamp, body)
    edited = body.replace(b'"status":"passed"', b'"status":"failed"')
    assert edited != body
    return deliver(client, edited, msg_id="msg_x", timestamp=timestamp, signature=signature)


OTHER_SECRET = "whsec_" + base64.b64encode(b"another integrator's secret key!").decode()


@pytest.mark.parametrize(
    "send, problem",  # problem: a regular expression
    [
        (tampered, "no v1 signature matches"),
        (lambda client: deliver(client, secret=OTHER_SECRET), "no v1 signature matches"),
        (lambda client: deliver(client, timestamp=int(time.time()) - 301), r"is -30[12] s from our clock"),
        (lambda client: deliver(client, timestamp=int(time.time()) + 400), r"is \+(399|400) s from"),
        (lambda client: deliver(client, timestamp="1700000000.5"), "not Unix seconds"),
        (lambda client: deliver(client, drop=("webhook-id",)), "missing webhook-id header"),
        (lambda client: deliver(client, drop=("webhook-timestamp",)), "missing webhook-timestamp header"),
        (lambda client: deliver(client, drop=("webhook-signature",)), "missing webhook-signature header"),
        (lambda client: deliver(client, signature="v2,abc"), "no v1 signature matches"),
        (lambda client: deliver(client, b"not json at all"), "body is not a JSON object"),
        (lambda client: deliver(client, b'["a", "list"]'), "body is not a JSON object"),
    ],
    ids=["tampered-body", "wrong-secret", "old-timestamp", "future-timestamp", "timestamp-not-seconds",
         "no-id", "no-timestamp", "no-signature", "unknown-version", "not-json", "not-an-object"],
)
def test_an_inauthentic_webhook_is_stored_unverified_and_answered_400(client, send, problem):
    response = send(client)

    assert response.status_code == 400
    assert re.search(problem, response.content.decode())
    [row] = ReceivedWebhook.objects.all()
    assert (row.verified, row.answered_status) == (False, 400)
    assert re.search(problem, row.problem)
    assert row.body  # kept as received, even when refused


def test_without_an_account_a_delivery_is_kept_and_answered_503_to_come_again(client):
    secret = demo_secret()
    IntegratorAccount.objects.all().delete()

    response = deliver(client, secret=secret)

    assert response.status_code == 503
    [row] = ReceivedWebhook.objects.all()
    assert (row.verified, row.answered_status, row.event_type) == (False, 503, "session.completed")
    assert row.problem == response.content.decode() == (
        "the sandbox holds no webhook secret for the demo yet: run manage.py migrate"
    )


def test_a_tampered_body_is_refused_even_though_it_still_parses(client):
    response = tampered(client)

    assert response.status_code == 400
    [row] = ReceivedWebhook.objects.all()
    # Parsed for the list, but marked as not believed.
    assert row.event_type == "session.completed" and row.verified is False


def test_during_a_rotation_a_second_matching_signature_is_enough(client):
    body, timestamp = completed_event(), str(int(time.time()))
    old = sign(OTHER_SECRET, "msg_rot", timestamp, body)
    new = sign(demo_secret(), "msg_rot", timestamp, body)

    response = deliver(client, body, msg_id="msg_rot", timestamp=timestamp, signature=f"{old} {new}")

    assert response.status_code == 204
    assert ReceivedWebhook.objects.get().verified is True


def test_a_repeated_webhook_id_is_stored_and_flagged_duplicate(client):
    first = deliver(client, msg_id="msg_again")
    second = deliver(client, msg_id="msg_again")
    other = deliver(client, msg_id="msg_other")

    assert (first.status_code, second.status_code, other.status_code) == (204, 204, 204)
    rows = {row.pk: row for row in ReceivedWebhook.objects.all()}
    duplicates = [(row.msg_id, row.duplicate) for _pk, row in sorted(rows.items())]
    assert duplicates == [("msg_again", False), ("msg_again", True), ("msg_other", False)]


def test_a_forged_delivery_does_not_make_the_real_one_a_duplicate(client):
    deliver(client, msg_id="msg_target", secret=OTHER_SECRET)

    response = deliver(client, msg_id="msg_target")

    assert response.status_code == 204
    assert ReceivedWebhook.objects.filter(verified=True).get().duplicate is False


def test_fail_next_makes_the_next_deliveries_503(client):
    response = client.post(FAIL_NEXT, {"count": "2"})
    assert response.status_code == 200 and response.json() == {"fail_next": 2}
    assert client.get(WEBHOOKS_JSON).json()["fail_next"] == 2

    statuses = [deliver(client, msg_id="msg_retried").status_code for _ in range(3)]

    assert statuses == [503, 503, 204]
    rows = ReceivedWebhook.objects.order_by("id")
    assert [row.answered_status for row in rows] == [503, 503, 204]
    # Each was checked, and a retry after a 503 is not a repeat: it was never handled.
    assert [(row.verified, row.duplicate) for row in rows] == [(True, False)] * 3
    assert client.get(WEBHOOKS_JSON).json()["fail_next"] == 0


@pytest.mark.parametrize("count", ["", "-1", "21", "two"])
def test_fail_next_refuses_a_count_out_of_range(client, count):
    response = client.post(FAIL_NEXT, {"count": count})

    assert response.status_code == 400
    assert WebhookOutage.pending() == 0


def test_the_receiver_answers_only_post(client):
    response = client.get(WEBHOOKS)

    assert response.status_code == 405
    assert ReceivedWebhook.objects.count() == 0


def test_the_webhook_list_is_newest_first_without_signatures_or_bodies(client):
    deliver(client, msg_id="msg_1")
    deliver(client, msg_id="msg_2", secret=OTHER_SECRET)

    response = client.get(WEBHOOKS_JSON)

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    listed = response.json()["webhooks"]
    assert [(item["msg_id"], item["verified"]) for item in listed] == [("msg_2", False), ("msg_1", True)]
    assert listed[0]["problem"] == "no v1 signature matches"
    assert set(listed[1]) == {
        "msg_id", "type", "session_id", "sequence", "status", "verified", "problem", "duplicate",
        "answered_status", "received_at",
    }


def test_the_webhook_list_keeps_to_the_latest_50(client):
    for number in range(52):
        deliver(client, msg_id=f"msg_{number}")

    listed = client.get(WEBHOOKS_JSON).json()["webhooks"]

    assert len(listed) == 50
    assert listed[0]["msg_id"] == "msg_51"


def test_the_portal_signs_webhooks_the_receiver_accepts(integrator_client, sandbox):
    """The portal's own signer against this receiver, over real HTTP."""
    from verification.services import webhooks

    body = completed_event().decode()
    timestamp = int(time.time())
    headers = webhooks.webhook_headers(
        secrets_=[demo_secret()], msg_id="msg_from_portal", timestamp=timestamp, body=body
    )

    response = requests.post(integrator_client.webhook_url, data=body.encode(), headers=headers, timeout=10)

    assert response.status_code == 204
    assert ReceivedWebhook.objects.get().verified is True


# --- the emulated Jumdata page, inside an integrator's frame ------------------------------


def test_the_jumdata_page_and_its_buttons_may_be_framed_by_any_site(db):
    task = JumdataTask.objects.create(
        token="t" * 40, app_id="sandbox-jumdata-app", init_task_no="1" * 24,
        return_url="https://portal.example/back", face_token="f" * 32,
    )
    client = Client()

    page = client.get("/sandbox/jumdata/lifecheck/h5/v2/html", {"token": task.token})
    pressed = client.post("/sandbox/jumdata/h5/finish", {"token": task.token, "outcome": "pass"})

    assert page.status_code == 200 and pressed.status_code == 302
    for response in (page, pressed):
        assert "X-Frame-Options" not in response
        assert csp(response)["frame-ancestors"] == ["*"]


def test_the_vendor_api_stays_unframable(client):
    response = client.post("/sandbox/jumdata/lifecheck/h5/v2/init")

    assert response["X-Frame-Options"] == "DENY"


# --- the page's script, in a real browser ----------------------------------------------------


def open_integrator_page(browser, live_server):
    browser.get(integrator_url(live_server, PAGE))
    wait(browser).until(EC.presence_of_element_located((By.ID, "start")))


def post_from_a_portal_frame(browser, live_server, script):
    """Runs `script` in a frame on the portal's origin inside the page (the
    sandbox's Jumdata page, which any site may frame), then returns to the page."""
    browser.execute_script(
        "const frame = document.createElement('iframe'); frame.id = 'probe'; frame.src = arguments[0];"
        "document.body.append(frame);",
        f"{live_server.url}/sandbox/jumdata/lifecheck/h5/v2/html",
    )
    wait(browser).until(EC.frame_to_be_available_and_switch_to_it((By.ID, "probe")))
    wait(browser).until(lambda b: b.execute_script("return document.readyState") == "complete")
    assert browser.execute_script("return location.origin") == live_server.url
    browser.execute_script(script)
    browser.switch_to.default_content()


def events_listed(browser):
    return [
        (item.get_attribute("data-type"), json.loads(item.text))
        for item in browser.find_elements(By.CSS_SELECTOR, "#events li")
    ]


@pytest.mark.browser
def test_the_page_believes_only_the_portals_own_messages_from_the_portal_origin(sandbox, browser):
    open_integrator_page(browser, sandbox)
    # Shaped like the portal's, but sent from the page's own origin.
    browser.execute_script('window.postMessage({source: "kyc-portal", type: "ready", step: "consent"}, "*")')

    post_from_a_portal_frame(
        browser,
        sandbox,
        'parent.postMessage({type: "ready"}, "*");'
        'parent.postMessage("kyc-portal", "*");'
        'parent.postMessage({source: "kyc-portal", type: "completed", session_id: "s-1",'
        ' status: "failed", final: false, retry_allowed: true}, "*");',
    )

    completed = (By.CSS_SELECTOR, '#events li[data-type="completed"]')
    wait(browser).until(EC.presence_of_element_located(completed))
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "ignored"), "3"))
    assert events_listed(browser) == [
        ("completed", {"source": "kyc-portal", "type": "completed", "session_id": "s-1", "status": "failed",
                       "final": False, "retry_allowed": True}),
    ]
    assert browser.find_element(By.ID, "done").text == ""  # not final: a new attempt may follow


@pytest.mark.browser
def test_a_final_completed_message_makes_the_page_fetch_the_outcome_from_the_api(
    integrator_client, sandbox, browser
):
    created = create_session(sandbox)
    open_integrator_page(browser, sandbox)

    post_from_a_portal_frame(
        browser,
        sandbox,
        f'parent.postMessage({{source: "kyc-portal", type: "completed", session_id: "{created["id"]}",'
        ' status: "passed", final: true, retry_allowed: false}, "*");',
    )

    done = wait(browser).until(EC.visibility_of_element_located((By.ID, "done")))
    assert done.text == "Done: status passed — fetch the outcome from the API"
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "outcome"), "HTTP 200"))
    outcome = browser.find_element(By.ID, "outcome").text
    # What the API says (the session was only created), not what the message claimed.
    assert json.loads(outcome.split("\n", 1)[1])["status"] == "created"


@pytest.mark.browser
def test_the_page_lists_the_webhooks_received_with_their_check(sandbox, browser):
    for msg_id, secret in (("msg_real", demo_secret()), ("msg_forged", OTHER_SECRET)):
        body, timestamp = completed_event(sequence=2), str(int(time.time()))
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": sign(secret, msg_id, timestamp, body),
            "Content-Type": "application/json",
        }
        requests.post(f"{sandbox.url}{WEBHOOKS}", data=body, headers=headers, timeout=10)

    open_integrator_page(browser, sandbox)

    wait(browser).until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#webhooks li")) == 2)
    forged, real = browser.find_elements(By.CSS_SELECTOR, "#webhooks li")
    assert real.get_attribute("data-type") == "session.completed"
    assert real.get_attribute("data-verified") == "true"
    assert "webhook-id msg_real" in real.text and "sequence 2" in real.text and "status passed" in real.text
    assert "signature verified ✓" in real.text
    assert forged.get_attribute("data-verified") == "false"
    assert "signature NOT verified: no v1 signature matches" in forged.text
