"""`"method": "auto"` in a real headless Chromium with a fake camera and
microphone: after consent the page probes the device (static/js/route.js),
the portal chooses, and the page lands on the chosen method's step; in
WeChat's browser the recording page is passed over for the vendor's page;
and a vendor down at the first call moves the person on to the next
method's step with no second consent."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from tests.support.browser import chromium, left_the_page, policy_violations, press, screenshot, wait
from tests.support.browser_media import fake_media_args, write_fake_media
from tests.support.http_double import free_port
from verification.models import VendorCall
from verification.services.sessions import session_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WECHAT_USER_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36 MicroMessenger/8.0.47.2560(0x28002F35) NetType/WIFI Language/zh_CN"
)


@pytest.fixture(scope="module")
def fake_media(tmp_path_factory):
    return write_fake_media(tmp_path_factory.mktemp("fake-media"))


@pytest.fixture
def chromium_args(fake_media):
    return fake_media_args(fake_media)


@pytest.fixture
def wechat_browser(fake_media):
    driver = chromium(extra_args=(*fake_media_args(fake_media), f"--user-agent={WECHAT_USER_AGENT}"))
    try:
        yield driver
    finally:
        driver.quit()


def auto_session(*methods):
    return session_create(client=None, method="auto", methods=list(methods), external_ref="t", locale="en")


def consent_and_land(browser, sandbox, session, lands_on: str):
    """Opens the link, consents, and waits while the page probes, reports and
    reloads into the chosen method's first step (`lands_on`, an element id)."""
    browser.get(f"{sandbox.url}/v/{session.link_token}/")
    press(browser, "consent-button")
    wait(browser).until(EC.visibility_of_element_located((By.ID, lands_on)))
    assert not browser.find_elements(By.ID, "route")
    session.refresh_from_db()
    return session


def test_the_page_probes_the_device_and_lands_on_the_first_method_it_can_do(sandbox, browser):
    session = auto_session("tencent_lip", "h5")

    session = consent_and_land(browser, sandbox, session, "camera-button")

    screenshot(browser, "auto-landed-on-recording")
    assert (session.method, session.methods_tried, session.status) == ("tencent_lip", ["tencent_lip"], "created")
    facts = session.device_facts
    assert facts["reported"] and facts["camera"] and facts["microphone"] and facts["media_recorder"]
    assert any(t.startswith(("video/webm", "video/mp4")) for t in facts["recorder_types"])
    assert facts["in_app"] == ""
    assert not VendorCall.objects.exists(), "choosing calls no vendor"
    assert policy_violations(browser) == []


def test_in_wechat_the_vendors_hosted_page_is_chosen(sandbox, wechat_browser):
    session = auto_session("tencent_lip", "h5")

    session = consent_and_land(wechat_browser, sandbox, session, "start-button")

    assert session.method == "h5"
    assert session.device_facts["in_app"] == "wechat"
    assert session.device_facts["passed_over"] == {"tencent_lip": "in_app_browser", "h5": ""}


def test_a_vendor_down_at_the_first_call_moves_the_person_on(sandbox, browser, settings):
    session = auto_session("tencent_lip", "juhe_video")
    session = consent_and_land(browser, sandbox, session, "camera-button")
    settings.TENCENT_BASE_URL = f"http://127.0.0.1:{free_port()}"  # Tencent goes down: connection refused

    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.ID, "camera-button").click()  # asks for the lip code

    wait(browser).until(left_the_page(page))  # the page reloads into the next method
    wait(browser).until(EC.visibility_of_element_located((By.ID, "camera-button")))
    assert not browser.find_elements(By.ID, "consent-button")
    session.refresh_from_db()
    assert (session.method, session.methods_tried) == ("juhe_video", ["tencent_lip", "juhe_video"])
    assert (session.status, session.attempts_used) == ("created", 0)
    assert list(VendorCall.objects.values_list("endpoint", flat=True)) == ["livegetfour"]
    browser.find_element(By.ID, "camera-button").click()
    wait(browser).until(EC.visibility_of_element_located((By.ID, "record-button")))
    session.refresh_from_db()
    assert (session.method, session.status, session.attempts_used) == ("juhe_video", "in_progress", 1)
    assert policy_violations(browser) == []
