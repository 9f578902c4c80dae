"""The flow embedded in a product team's app, in a real headless Chromium
that blocks third-party cookies as Safari does: the sandbox's demo
integrator, on another site (localhost ↔ 127.0.0.1), frames a session and
hears its events; a page of an origin not on the client's list cannot frame
it; a framed check that cannot use the camera hands over to a phone; and
redirect mode brings the browser back with the session id only.

Set BROWSER_SCREENSHOT_DIR to keep the screenshots."""

import http.server
import threading
from urllib.parse import urlsplit

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from sandbox.integrator_account import CLIENT_NAME, integrator_origin, keep_account
from tests.support.browser import BLOCK_THIRD_PARTY_COOKIES, WAIT_SECONDS, chromium, press, screenshot, wait
from tests.support.browser_media import fake_media_args, write_fake_media
from tests.support.factories import new_session
from tests.browser.test_video import (
    click,
    let_the_server_finish,
    open_camera,
    record,
    result_after_reload,
    upload,
    visible,
)
from verification.models import ApiClient, VerificationSession

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def fake_media(tmp_path_factory):
    return write_fake_media(tmp_path_factory.mktemp("fake-media"))


@pytest.fixture
def embedding_browser(fake_media):
    """A Chromium with a fake camera and microphone that refuses cookies to
    frames of another site."""
    driver = chromium(extra_args=fake_media_args(fake_media), prefs=BLOCK_THIRD_PARTY_COOKIES)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def integrator(sandbox):
    """The demo integrator's page, on the other site of the live server."""
    keep_account()  # for the live server's SITE_URL, as the next migrate would
    return integrator_origin(sandbox.url)


# --- what the integrator's page and the person do ----------------------------------------


def embed(browser, integrator, method, *, mode="iframe"):
    """Opens the integrator's page and starts a session of `method`;
    returns the session, and in iframe mode leaves the driver in the frame."""
    browser.get(f"{integrator}/sandbox/integrator/")
    Select(browser.find_element(By.ID, "method")).select_by_value(method)
    Select(browser.find_element(By.ID, "mode")).select_by_value(mode)
    Select(browser.find_element(By.ID, "locale")).select_by_value("en")
    if mode == "redirect":
        press(browser, "start")
        return VerificationSession.objects.get()
    click(browser, "start")
    frame = wait(browser).until(EC.presence_of_element_located((By.ID, "kyc-frame")))
    session = VerificationSession.objects.get()
    wait(browser).until(EC.frame_to_be_available_and_switch_to_it((By.ID, "kyc-frame")))
    wait(browser).until(EC.presence_of_element_located((By.ID, "session")))
    browser.switch_to.parent_frame()
    return session, frame


def into_frame(browser):
    wait(browser).until(EC.frame_to_be_available_and_switch_to_it((By.ID, "kyc-frame")))


def events_heard(browser, *, until_type, seconds=WAIT_SECONDS * 2):
    """The parent page's list of accepted messages, once `until_type` arrived."""
    browser.switch_to.default_content()
    wait(browser, seconds).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, f'#events li[data-type="{until_type}"]'))
    )
    return [item.get_attribute("data-type") for item in browser.find_elements(By.CSS_SELECTOR, "#events li")]


def event_payload(browser, event_type):
    return browser.execute_script(
        "return JSON.parse(document.querySelector(`#events li[data-type='${arguments[0]}']`).textContent)",
        event_type,
    )


def webhooks_heard(browser, *, seconds=WAIT_SECONDS * 2):
    browser.switch_to.default_content()
    wait(browser, seconds).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#webhooks li")))
    return [
        (item.get_attribute("data-type"), item.get_attribute("data-verified"))
        for item in browser.find_elements(By.CSS_SELECTOR, "#webhooks li")
    ]


def finish_on_the_sandbox_page(browser, outcome_button):
    wait(browser).until(EC.visibility_of_element_located((By.ID, outcome_button)))
    press(browser, outcome_button)


class OneFramingPage:
    """A page of an origin the client never listed, framing a session."""

    def __init__(self, session_url):
        html = (
            "<!doctype html><title>elsewhere</title><script>window.heard = [];"
            "addEventListener('message', e => window.heard.push(e.data));</script>"
            f'<iframe id="kyc-frame" src="{session_url}" allow="camera; microphone"></iframe>'
        ).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(html)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# --- stories ---------------------------------------------------------------------------


def test_an_h5_check_inside_the_integrators_iframe_tells_the_app_each_step(sandbox, integrator, embedding_browser):
    browser = embedding_browser
    session, frame = embed(browser, integrator, "h5")
    assert frame.get_attribute("allow") == f"camera 'src' {sandbox.url}"  # the sandbox's Jumdata page is the portal's origin
    assert urlsplit(browser.current_url).netloc != urlsplit(sandbox.url).netloc

    into_frame(browser)
    # The browser refuses this frame its cookies, and the flow needs none.
    assert browser.execute_script("document.cookie = 'probe=1; SameSite=None; Secure'; return document.cookie") == ""
    assert browser.execute_script("return window.kycEmbed.targets()") == [integrator]
    press(browser, "consent-button")
    press(browser, "start-button")
    finish_on_the_sandbox_page(browser, "sandbox-pass")
    wait(browser).until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#result.passed")))
    assert not browser.find_element(By.ID, "return-link").is_displayed()  # the app, not a redirect, takes over
    screenshot(browser, "embed-h5-passed-in-frame")

    heard = events_heard(browser, until_type="completed")
    assert heard == ["ready", "ready", "consent_given", "started", "ready", "submitted", "completed"]
    assert event_payload(browser, "completed") == {
        "source": "kyc-portal", "type": "completed", "session_id": str(session.id),
        "status": "passed", "final": True, "retry_allowed": False,
    }
    assert browser.find_element(By.ID, "ignored").text == "0"
    let_the_server_finish(session)  # the worker delivers the webhook
    assert webhooks_heard(browser) == [("session.completed", "true")]
    screenshot(browser, "embed-integrator-page")


def test_a_recorded_check_inside_the_iframe_uses_the_camera_the_app_delegated(sandbox, integrator, embedding_browser):
    browser = embedding_browser
    session, frame = embed(browser, integrator, "tencent_lip")
    assert frame.get_attribute("allow") == "camera; microphone"

    into_frame(browser)
    press(browser, "consent-button")
    open_camera(browser)
    record(browser, shot="embed-recording-in-frame")
    waiting, _ = upload(browser)
    let_the_server_finish(session)
    result_after_reload(browser, waiting, "passed")

    heard = events_heard(browser, until_type="completed")
    assert heard == ["ready", "ready", "consent_given", "started", "submitted", "ready", "completed"]


def test_a_page_of_an_origin_not_on_the_list_cannot_frame_the_flow(sandbox, integrator, embedding_browser):
    browser = embedding_browser
    session = new_session(
        client=ApiClient.objects.get(name=CLIENT_NAME), method="h5", external_ref="t", locale="en"
    )
    elsewhere = OneFramingPage(f"{sandbox.url}/v/{session.link_token}/")
    try:
        browser.get(elsewhere.url)
        into_frame(browser)
        # Chromium shows its own "refused to connect" page in the frame.
        wait(browser).until(lambda b: b.execute_script("return document.readyState") == "complete")
        assert not browser.find_elements(By.ID, "session")
        assert not browser.find_elements(By.ID, "consent-button")
        browser.switch_to.default_content()
        assert browser.execute_script("return window.heard") == []
    finally:
        elsewhere.close()
    session.refresh_from_db()
    assert session.consent_at is None


def test_a_framed_h5_check_that_failed_on_the_camera_continues_on_a_phone(sandbox, integrator, embedding_browser):
    browser = embedding_browser
    session, _ = embed(browser, integrator, "h5")
    into_frame(browser)
    press(browser, "consent-button")
    press(browser, "start-button")
    finish_on_the_sandbox_page(browser, "sandbox-error")  # Jumdata 203: e.g. the camera was blocked
    advice = wait(browser).until(EC.visibility_of_element_located((By.ID, "frame-advice")))
    assert browser.find_element(By.ID, "new-window-link").get_attribute("target") == "_blank"
    advice.find_element(By.CSS_SELECTOR, "[data-handoff]").click()
    link = wait(browser).until(lambda b: b.find_element(By.ID, "handoff-link").get_attribute("value"))
    wait(browser).until(lambda b: b.execute_script("return document.getElementById('handoff-qr').naturalWidth > 0"))
    screenshot(browser, "embed-handoff-in-frame")

    # The phone: the short link, then the check there (plain HTTP will do).
    phone = requests.Session()
    opened = phone.get(link)
    assert opened.url == f"{sandbox.url}/v/{session.link_token}/?via=handoff"
    wait(browser).until(lambda b: "phone" in b.find_element(By.ID, "handoff-status").text)
    vendor_page = phone.post(f"{sandbox.url}/v/{session.link_token}/h5/start", allow_redirects=False).headers["Location"]
    token = vendor_page.split("token=")[1]
    phone.post(f"{sandbox.url}/sandbox/jumdata/h5/finish", data={"token": token, "outcome": "pass"})

    # The framed page follows and finishes when the phone does.
    wait(browser, WAIT_SECONDS * 2).until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#result.passed")))
    heard = events_heard(browser, until_type="completed")
    assert heard.count("completed") == 2  # the 203, then the pass
    assert event_payload(browser, "completed")["status"] == "failed"  # the first one heard
    assert browser.execute_script(
        "return JSON.parse([...document.querySelectorAll('#events li')].pop().textContent).status"
    ) == "passed"


def test_a_frame_without_the_camera_delegated_offers_the_phone_up_front(sandbox, integrator, embedding_browser):
    browser = embedding_browser
    session, frame = embed(browser, integrator, "tencent_lip")
    # An app that forgot the allow attribute.
    browser.execute_script("arguments[0].removeAttribute('allow'); arguments[0].src = arguments[0].src", frame)
    into_frame(browser)
    wait(browser).until(EC.element_to_be_clickable((By.ID, "consent-button")))
    press(browser, "consent-button")
    reason = visible(browser, "unsupported-reason")
    assert "does not let it use the camera" in reason.text
    click(browser, "camera-button")
    click(browser, "fallback-handoff")
    assert wait(browser).until(lambda b: b.find_element(By.ID, "handoff-link").get_attribute("value")).startswith(
        f"{sandbox.url}/h/"
    )
    assert browser.find_element(By.ID, "fallback-new-window").is_displayed()
    assert "error" in events_heard(browser, until_type="error")
    assert event_payload(browser, "error")["code"] == "camera_frame"


def test_a_desktop_browser_is_offered_the_phone_up_front(sandbox, integrator):
    desktop = chromium(phone=False)
    try:
        session = new_session(method="tencent_lip", external_ref="t", locale="en")
        desktop.get(f"{sandbox.url}/v/{session.link_token}/")
        panel = wait(desktop).until(EC.visibility_of_element_located((By.ID, "handoff")))
        assert desktop.find_element(By.ID, "handoff-desktop-intro").is_displayed()
        link = wait(desktop).until(lambda b: b.find_element(By.ID, "handoff-link").get_attribute("value"))
        assert link.startswith(f"{sandbox.url}/h/")
        screenshot(desktop, "handoff-desktop")
        click(desktop, "handoff-stay")
        assert not panel.is_displayed()
        assert desktop.find_element(By.ID, "consent-button").is_displayed()
    finally:
        desktop.quit()


def test_redirect_mode_brings_the_browser_back_with_the_session_id_only(sandbox, integrator, embedding_browser):
    browser = embedding_browser
    session = embed(browser, integrator, "h5", mode="redirect")
    assert browser.current_url == f"{sandbox.url}/v/{session.link_token}/"
    press(browser, "consent-button")
    press(browser, "start-button")
    finish_on_the_sandbox_page(browser, "sandbox-pass")
    wait(browser).until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#result.passed")))
    assert browser.find_element(By.ID, "return-countdown").is_displayed()

    wait(browser, WAIT_SECONDS).until(EC.url_contains("/sandbox/integrator/return"))
    assert browser.current_url == f"{integrator}/sandbox/integrator/return?session_id={session.id}"
    wait(browser).until(EC.text_to_be_present_in_element((By.TAG_NAME, "body"), "passed"))
    screenshot(browser, "redirect-mode-back-in-the-app")


def test_a_person_who_cancels_inside_the_frame_is_heard_by_the_app(sandbox, integrator, embedding_browser):
    browser = embedding_browser
    session, _ = embed(browser, integrator, "juhe_video")
    into_frame(browser)
    press(browser, "consent-button")

    click(browser, "cancel-button")

    assert visible(browser, "cancelled-note").text == "Verification cancelled. You can close this window."
    assert events_heard(browser, until_type="cancelled")[-1] == "cancelled"
    session.refresh_from_db()
    assert session.status == "created"  # nothing is lost: the link still works until it expires
