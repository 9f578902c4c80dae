"""A real headless Chromium for browser tests: Debian's `chromium` package
driven by its `chromium-driver`, never a downloaded browser.

    from tests.support.browser import browser, chromium_args  # noqa: F401  (fixtures)

    def test_something(browser, sandbox):
        browser.get(sandbox.url)

Tests that need more flags (a fake camera, say) call `chromium(extra_args=...)`
themselves, or override the `chromium_args` fixture.

When the browser is not installed the test is skipped, except on CI
(`CI=true`), where a skip would hide that nothing ran: there it fails.

Set BROWSER_SCREENSHOT_DIR to a folder to keep the screenshots tests take with
`screenshot()`; without it, `screenshot()` does nothing."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL_HINT = "apt-get install chromium chromium-driver"

# Root, no display, closed network: run headless at phone size, and keep
# Chromium from calling home.
BASE_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=412,915",
)

# --window-size alone leaves a 500×772 viewport (desktop windows are at least
# 500 px wide, and headless keeps room for the toolbar), so the page is also
# emulated at this size, with touch, as a phone would show it.
PHONE_METRICS = {"width": 412, "height": 915, "pixelRatio": 1.0}

WAIT_SECONDS = 10


def require_chromium():
    """Skips (fails on CI) the current test when Debian's Chromium or its
    driver is missing."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if not missing:
        return
    reason = f"browser test needs {' and '.join(missing)} ({INSTALL_HINT})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true, so this is an error, not a skip", pytrace=False)
    pytest.skip(reason)


# Safari's default, and Chromium's with this setting: no cookie for a frame
# from another site than the page's.
BLOCK_THIRD_PARTY_COOKIES = {"profile.cookie_controls_mode": 1, "profile.block_third_party_cookies": True}


def chromium(extra_args=(), *, phone=True, prefs=None):
    """Starts a fresh headless Chromium (its own throw-away profile) and
    returns its WebDriver; with phone=True its pages are laid out on a 412×915
    touch screen; `prefs` are Chromium preferences (BLOCK_THIRD_PARTY_COOKIES,
    say). The caller must call `.quit()`; the profile folder is removed then."""
    require_chromium()
    # Selenium Manager must never look for, or download, a browser or driver.
    os.environ["SE_OFFLINE"] = "true"
    profile = tempfile.mkdtemp(prefix="kyc-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (*BASE_ARGS, f"--user-data-dir={profile}", *extra_args):
        options.add_argument(arg)
    if phone:
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE_METRICS})
    if prefs:
        options.add_experimental_option("prefs", prefs)
    # The console, for policy_violations().
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    except Exception:
        shutil.rmtree(profile, ignore_errors=True)
        raise
    driver.set_page_load_timeout(WAIT_SECONDS * 3)
    quit_driver = driver.quit

    def quit_and_clean():
        try:
            quit_driver()
        finally:
            shutil.rmtree(profile, ignore_errors=True)

    driver.quit = quit_and_clean
    return driver


def screenshot(driver, name):
    """Saves a PNG of the current page as BROWSER_SCREENSHOT_DIR/<name>.png,
    if that variable is set. Returns the path, or None."""
    folder = os.environ.get("BROWSER_SCREENSHOT_DIR")
    if not folder:
        return None
    path = Path(folder) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    return path


@pytest.fixture
def chromium_args():
    """Extra Chromium flags for the `browser` fixture; override to add some."""
    return ()


@pytest.fixture
def browser(chromium_args):
    """A headless Chromium showing pages on a 412×915 phone screen, closed
    after the test."""
    driver = chromium(extra_args=chromium_args)
    try:
        yield driver
    finally:
        driver.quit()


def policy_violations(driver) -> list[str]:
    """What Chromium wrote to the console about Content-Security-Policy
    violations ("Refused to execute inline script because it violates …")
    in any page or frame since the last call: reading the log empties it."""
    return [entry["message"] for entry in driver.get_log("browser") if "Content Security Policy" in entry["message"]]


# --- what a person does --------------------------------------------------------------


def wait(driver, seconds=None):
    return WebDriverWait(driver, seconds or WAIT_SECONDS)


def press(driver, element_id):
    """Clicks a button that submits a form and waits for the next page."""
    for attempt in range(3):
        try:
            page = driver.find_element(By.TAG_NAME, "html")
            button = wait(driver).until(EC.element_to_be_clickable((By.ID, element_id)))
            break
        except WebDriverException as error:
            # Chromium may still be swapping in the document just loaded.
            if not _node_left_document(error) or attempt == 2:
                raise
    try:
        button.click()
    except WebDriverException as error:
        # The next page came before chromedriver finished with the button.
        if not _node_left_document(error):
            raise
    wait(driver).until(left_the_page(page))
    wait(driver).until(lambda b: b.execute_script("return document.readyState") == "complete")


def left_the_page(element):
    """A wait condition: `element`'s document has been replaced. Chromium
    says so in one of two ways, depending on how far it is in swapping the
    documents: a stale element, or an inspector error that the node does not
    belong to the document (which Selenium's staleness_of does not know)."""
    def replaced(_driver):
        try:
            element.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as error:
            if _node_left_document(error):
                return True
            raise
        return False
    return replaced


def _node_left_document(error: WebDriverException) -> bool:
    return "does not belong to the document" in str(error)
