"""FaceID's two methods in a real headless Chromium at phone size, with
FaceID played by the portal's own sandbox (its API over the official SDK):
the H5 page and back, and the lip-code recording."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from tests.browser.test_video import (  # noqa: F401  (fixtures: the fake camera and microphone)
    challenge_digits,
    chromium_args,
    consent,
    fake_media,
    let_the_server_finish,
    open_camera,
    record,
    recorded_clip,
    result_after_reload,
    upload,
)
from tests.support import factories
from tests.support.browser import press, screenshot, wait
from verification.models import Submission, VendorCall

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ID, NAME = "11010519491231002X", "张三"


def on_faceid_page(browser, sandbox):
    wait(browser).until(EC.visibility_of_element_located((By.ID, "faceid-pass")))
    assert browser.current_url.startswith(f"{sandbox.url}/sandbox/faceid/h5?token=")


def test_a_person_goes_through_tencents_h5_page_and_comes_back_verified(sandbox, browser):
    session = factories.new_session(method="faceid_h5", external_ref="t", locale="en", realname=NAME, idcard=ID)
    browser.get(f"{sandbox.url}/v/{session.link_token}/")
    press(browser, "consent-button")
    press(browser, "start-button")
    on_faceid_page(browser, sandbox)
    assert "002X" in browser.find_element(By.ID, "faceid-identity").text
    screenshot(browser, "faceid-h5-page")

    press(browser, "faceid-pass")

    wait(browser).until(EC.url_to_be(f"{sandbox.url}/v/{session.link_token}/"))
    passed = wait(browser).until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#result.passed")))
    assert passed.text
    screenshot(browser, "faceid-h5-passed")
    session.refresh_from_db()
    assert (session.status, session.passed, session.outcome_vendor) == ("passed", True, "faceid")
    assert session.face_image and Submission.objects.get(session=session).capture == "vendor"


def test_a_person_who_is_not_the_same_person_can_try_again(sandbox, browser):
    session = factories.new_session(method="faceid_h5", external_ref="t", locale="en", realname=NAME, idcard=ID)
    browser.get(f"{sandbox.url}/v/{session.link_token}/")
    press(browser, "consent-button")
    press(browser, "start-button")
    on_faceid_page(browser, sandbox)

    press(browser, "faceid-face-mismatch")

    failed = wait(browser).until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#result.failed")))
    assert "does not match" in failed.text
    session.refresh_from_db()
    assert (session.status, session.reason) == ("failed", "face_mismatch")
    press(browser, "retry-button")
    on_faceid_page(browser, sandbox)  # a new check: a second DetectAuth
    assert VendorCall.objects.filter(endpoint="DetectAuth").count() == 2


def test_a_person_reads_faceids_live_code_records_and_is_verified(sandbox, browser):
    session = factories.new_session(method="faceid_lip", external_ref="t", locale="en", realname=NAME, idcard=ID)
    consent(browser, sandbox, session)
    open_camera(browser)
    code = challenge_digits(browser)
    assert VendorCall.objects.filter(endpoint="GetLiveCode").count() == 1
    record(browser, shot="faceid-lip-recording")
    clip = recorded_clip(browser)
    assert clip["rmsDbfs"] > -45, clip
    waiting, form = upload(browser)
    assert form["capture"] == "recorder"

    let_the_server_finish(session)

    passed = result_after_reload(browser, waiting, "passed")
    assert "You are verified" in passed.text
    session.refresh_from_db()
    assert (session.status, session.passed, session.vendor_code) == ("passed", True, "Success")
    call = VendorCall.objects.get(endpoint="LivenessRecognition")
    assert call.request_summary["ValidateData"] == code and call.billed is True
