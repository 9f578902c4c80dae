"""The pages still work under the Content-Security-Policy, in a real
headless Chromium whose console would report every violation ("Executing
inline script violates the following Content Security Policy directive…"):
landing → consent → the H5 vendor's page on another origin → result; the
recorded flow with the fake camera (blob preview, upload); the hand-off QR
code (a data: image); the admin a reviewer uses; the demo integrator's page
(an inline script by nonce) framing the portal.

The first test shows the console does report what the policy blocks, so
an empty report means something."""

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from sandbox.integrator_account import integrator_origin, keep_account
from tests.support.browser import chromium, policy_violations, press, wait
from tests.support.browser_media import fake_media_args
from tests.support.media_samples import make_jpeg
from tests.support import factories
from tests.browser.test_embed import embed, events_heard, finish_on_the_sandbox_page, into_frame
from tests.browser.test_video import (  # noqa: F401  (fake_media, chromium_args: the fake camera's fixtures)
    chromium_args,
    consent,
    fake_media,
    let_the_server_finish,
    new_session,
    open_camera,
    record,
    result_after_reload,
    upload,
)
from verification.models import VerificationSession

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desktop():
    driver = chromium(extra_args=("--window-size=1280,1000",), phone=False)
    try:
        yield driver
    finally:
        driver.quit()


def assert_no_violation(browser, where):
    violations = policy_violations(browser)
    assert not violations, f"{where}: {violations}"


def test_the_console_reports_what_the_policy_blocks(sandbox, browser):
    browser.get(sandbox.url + "/")
    browser.execute_script(
        "const s = document.createElement('script'); s.textContent = 'window.injected = true'; document.body.append(s);"
    )

    assert browser.execute_script("return window.injected === undefined")
    (violation,) = policy_violations(browser)
    assert "script-src 'self'" in violation


def test_landing_consent_the_vendors_page_on_another_origin_and_the_result(sandbox, browser, settings):
    # The emulated Jumdata page on the other name of the same server: another
    # origin, as the real vendor's is, so the start form's redirect there
    # must be allowed by the page's form-action, and the vendor page's own
    # buttons must be allowed to send the browser back to the portal.
    vendor_origin = integrator_origin(sandbox.url)
    settings.JUMDATA_BASE_URL = f"{vendor_origin}/sandbox/jumdata"

    browser.get(sandbox.url + "/")
    assert_no_violation(browser, "landing")
    press(browser, "demo-h5")
    token = browser.current_url.rstrip("/").rsplit("/", 1)[1]
    assert_no_violation(browser, "consent page")
    press(browser, "consent-button")
    assert_no_violation(browser, "start page")
    press(browser, "start-button")
    wait(browser).until(EC.visibility_of_element_located((By.ID, "sandbox-pass")))
    assert browser.current_url.startswith(f"{vendor_origin}/sandbox/jumdata/lifecheck/h5/v2/html?token=")
    assert_no_violation(browser, "the vendor's page")
    press(browser, "sandbox-pass")

    assert browser.current_url == f"{sandbox.url}/v/{token}/"
    wait(browser).until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#result.passed")))
    assert_no_violation(browser, "result")
    assert VerificationSession.objects.get(link_token=token).status == "passed"


def test_the_recorded_flow_records_previews_uploads_and_shows_the_result(sandbox, browser):
    session = new_session("tencent_lip")
    consent(browser, sandbox, session)
    open_camera(browser)
    record(browser)
    # The preview plays the clip from a blob: URL.
    assert browser.execute_script("return document.getElementById('review-video').src").startswith("blob:")
    wait(browser).until(lambda b: b.execute_script("return document.getElementById('review-video').readyState >= 1"))
    assert_no_violation(browser, "recording and preview")

    waiting, _ = upload(browser)
    let_the_server_finish(session)
    result_after_reload(browser, waiting, "passed")
    assert_no_violation(browser, "upload and result")


def test_a_desktop_browser_shows_the_hand_off_qr_code(sandbox, desktop):
    session = factories.new_session(method="tencent_lip", external_ref="t", locale="en")
    desktop.get(f"{sandbox.url}/v/{session.link_token}/")

    qr = wait(desktop).until(EC.visibility_of_element_located((By.ID, "handoff-qr")))
    wait(desktop).until(lambda b: b.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", qr))
    assert qr.get_attribute("src").startswith("data:image/svg+xml")
    assert_no_violation(desktop, "hand-off panel")


def test_the_admin_pages_a_reviewer_uses(live_server, desktop, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    User.objects.create_superuser("root", password="pw-root-123")
    session = factories.new_session(
        method="tencent_lip", external_ref="order-77", status="passed", passed=True, realname="张三",
        idcard="11010519491231002X", review_status="needs_review", review_reasons=["file_upload"],
    )
    session.face_image.save("face.jpg", ContentFile(make_jpeg()), save=True)
    admin = f"{live_server.url}/{settings.ADMIN_URL}"

    desktop.get(admin)
    wait(desktop).until(EC.visibility_of_element_located((By.ID, "id_username"))).send_keys("root")
    desktop.find_element(By.ID, "id_password").send_keys("pw-root-123")
    desktop.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()
    wait(desktop).until(EC.presence_of_element_located((By.ID, "user-tools")))
    assert_no_violation(desktop, "login and index")

    pages = {
        "verification/dashboard/": "content-main",
        "verification/verificationsession/?q=11010519491231002X": "result_list",
        f"verification/verificationsession/{session.pk}/change/": "evidence",
        "verification/auditentry/": "result_list",
        "verification/apiclient/": "changelist",
        f"auth/user/{User.objects.get().pk}/change/": "user_form",
    }
    for path, element_id in pages.items():
        desktop.get(admin + path)
        wait(desktop).until(EC.presence_of_element_located((By.ID, element_id)))
        wait(desktop).until(lambda b: b.execute_script("return document.readyState") == "complete")
        assert_no_violation(desktop, path)
    # The changelist's own script ran: selecting a row counts it.
    desktop.get(admin + "verification/verificationsession/")
    wait(desktop).until(EC.element_to_be_clickable((By.CSS_SELECTOR, "#result_list .action-select"))).click()
    wait(desktop).until(lambda b: "1 of 1" in b.find_element(By.CSS_SELECTOR, ".action-counter").text)
    assert_no_violation(desktop, "changelist actions")


def test_the_demo_integrator_embeds_the_portal_and_hears_it(sandbox, fake_media):
    keep_account()  # for the live server's SITE_URL, as the next migrate would
    browser = chromium(extra_args=fake_media_args(fake_media))
    try:
        session, _ = embed(browser, integrator_origin(sandbox.url), "h5")
        # Its inline script (allowed by the answer's nonce) heard the portal.
        assert events_heard(browser, until_type="ready") == ["ready"]
        assert_no_violation(browser, "integrator page with the portal framed")

        into_frame(browser)
        press(browser, "consent-button")
        press(browser, "start-button")
        finish_on_the_sandbox_page(browser, "sandbox-pass")
        wait(browser).until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#result.passed")))
        assert "completed" in events_heard(browser, until_type="completed")
        assert_no_violation(browser, "the flow inside the frame")
        session.refresh_from_db()
        assert session.status == "passed"
    finally:
        browser.quit()
