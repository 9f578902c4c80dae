"""The H5 flow in a real headless Chromium at phone size, from the demo
landing page, with Jumdata played by the portal's own sandbox."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from tests.support.browser import left_the_page, press, screenshot, wait
from tests.conftest import run_due_tasks
from verification.models import VerificationSession
from verification.services.hosted import collect_hosted_result

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# --- what a person does --------------------------------------------------------------





def result_view(browser, kind):
    """Waits for the result card of one kind (passed, failed, pending)."""
    return wait(browser).until(EC.visibility_of_element_located((By.CSS_SELECTOR, f"#result.{kind}")))


def assert_sandbox_ribbon(browser):
    ribbon = browser.find_element(By.CSS_SELECTOR, ".sandbox-ribbon")
    assert ribbon.is_displayed() and "SANDBOX" in ribbon.text


def start_a_demo_check(browser, sandbox):
    """From the landing page to the sandbox's H5 page; returns the session."""
    browser.get(sandbox.url + "/")
    assert_sandbox_ribbon(browser)
    press(browser, "demo-h5")
    assert browser.current_url.startswith(f"{sandbox.url}/v/")
    token = browser.current_url.rstrip("/").rsplit("/", 1)[1]
    assert_sandbox_ribbon(browser)
    press(browser, "consent-button")
    press(browser, "start-button")
    on_sandbox_page(browser, sandbox)
    return VerificationSession.objects.get(link_token=token)


def on_sandbox_page(browser, sandbox):
    wait(browser).until(EC.visibility_of_element_located((By.ID, "sandbox-pass")))
    assert browser.current_url.startswith(f"{sandbox.url}/sandbox/jumdata/lifecheck/h5/v2/html?token=")


def back_on_portal(browser, sandbox, session):
    assert browser.current_url == f"{sandbox.url}/v/{session.link_token}/"
    assert_sandbox_ribbon(browser)


# --- stories ---------------------------------------------------------------------------


def test_a_person_passes_and_sees_that_they_are_verified(sandbox, browser):
    session = start_a_demo_check(browser, sandbox)

    press(browser, "sandbox-pass")

    back_on_portal(browser, sandbox, session)
    result_view(browser, "passed")
    assert browser.find_element(By.ID, "message").text
    assert not browser.find_elements(By.ID, "retry-button")
    screenshot(browser, "h5-passed")
    session.refresh_from_db()
    assert (session.status, session.passed, session.attempts_used) == ("passed", True, 1)
    run_due_tasks()  # the worker fetches the face photo of the pass
    session.refresh_from_db()
    assert session.face_image.read().startswith(b"\xff\xd8\xff")


def test_a_person_who_does_not_pass_can_try_again_and_pass(sandbox, browser):
    session = start_a_demo_check(browser, sandbox)

    press(browser, "sandbox-fail")

    back_on_portal(browser, sandbox, session)
    failed = result_view(browser, "failed")
    assert "Not verified" in failed.text
    screenshot(browser, "h5-failed")
    press(browser, "retry-button")
    on_sandbox_page(browser, sandbox)
    press(browser, "sandbox-pass")
    back_on_portal(browser, sandbox, session)
    result_view(browser, "passed")
    session.refresh_from_db()
    assert (session.status, session.attempts_used) == ("passed", 2)


def test_a_check_that_failed_on_the_vendor_side_says_so(sandbox, browser):
    session = start_a_demo_check(browser, sandbox)

    press(browser, "sandbox-error")

    back_on_portal(browser, sandbox, session)
    failed = result_view(browser, "failed")
    session.refresh_from_db()
    assert (session.status, session.reason) == ("failed", "check_failed")
    message = browser.find_element(By.ID, "message").text
    assert message and message in failed.text
    assert browser.find_element(By.ID, "retry-button").is_displayed()


def test_leaving_without_finishing_keeps_checking_until_time_runs_out(sandbox, browser, settings):
    session = start_a_demo_check(browser, sandbox)

    press(browser, "sandbox-abandon")

    back_on_portal(browser, sandbox, session)
    pending = result_view(browser, "pending")
    assert "Still checking" in pending.text
    assert browser.find_element(By.ID, "continue-button").is_displayed()
    screenshot(browser, "h5-pending")
    session.refresh_from_db()
    assert session.status == "processing"

    settings.SANDBOX_JUMDATA_TOKEN_TTL = 0  # the vendor's token dies
    collect_hosted_result.call(str(session.pk), session.vendor_token, 1, session.result_poll_due_at.isoformat())  # the quick poll
    session.refresh_from_db()
    assert (session.status, session.reason) == ("expired", "token_expired")

    # The page's own polling (every 2 s) notices and reloads itself.
    wait(browser).until(left_the_page(pending))
    expired = result_view(browser, "failed")
    assert "Time ran out" in expired.text
    assert browser.find_element(By.ID, "retry-button").is_displayed()
    assert not browser.find_elements(By.ID, "continue-button")
    screenshot(browser, "h5-expired")
    back_on_portal(browser, sandbox, session)
