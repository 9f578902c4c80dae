"""The recording page (record.html + recorder.js) in a real headless Chromium
at phone size, with a fake camera and microphone playing generated files
(tests/support/browser_media.py): read the code, record, look, upload, wait, result.

Set BROWSER_SCREENSHOT_DIR to keep the screenshots."""

import json
import re
import time

import pytest
import requests
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from tests.support.browser import WAIT_SECONDS, chromium, left_the_page, press, screenshot, wait
from tests.support.browser_media import fake_media_args, write_fake_media
from tests.conftest import run_due_tasks
from tests.support.media_samples import make_video
from tests.support import factories
from verification.models import VerificationSession

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORDING_SECONDS = 6
WECHAT_USER_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36 MicroMessenger/8.0.47.2560(0x28002F35) NetType/WIFI Language/zh_CN"
)


@pytest.fixture(scope="module")
def fake_media(tmp_path_factory):
    return write_fake_media(tmp_path_factory.mktemp("fake-media"))


@pytest.fixture
def chromium_args(fake_media):
    """The `browser` fixture's Chromium: fake camera and microphone, the
    permission prompt answered "Allow"."""
    return fake_media_args(fake_media)


@pytest.fixture
def refusing_browser(fake_media):
    """A Chromium with the same fake devices whose permission prompt is
    answered "Block": getUserMedia fails with NotAllowedError."""
    driver = chromium(extra_args=fake_media_args(fake_media, grant_permission=False))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def wechat_browser(fake_media):
    """A Chromium that says it is WeChat's built-in browser."""
    driver = chromium(extra_args=(*fake_media_args(fake_media), f"--user-agent={WECHAT_USER_AGENT}"))
    try:
        yield driver
    finally:
        driver.quit()


# --- what a person does --------------------------------------------------------------



def visible(browser, element_id, seconds=WAIT_SECONDS):
    return wait(browser, seconds).until(EC.visibility_of_element_located((By.ID, element_id)))


def click(browser, element_id):
    wait(browser).until(EC.element_to_be_clickable((By.ID, element_id))).click()




def new_session(method, **options):
    return factories.new_session(method=method, external_ref="t", options=options, locale="en")


def consent(browser, sandbox, session, shot=None):
    """Opens the person's link and gives consent: the recording page."""
    browser.get(f"{sandbox.url}/v/{session.link_token}/")
    press(browser, "consent-button")
    visible(browser, "camera-button")
    if shot:
        screenshot(browser, shot)


def open_camera(browser):
    """From the instructions to the live preview, with what to say shown."""
    click(browser, "camera-button")
    visible(browser, "record-button")
    wait(browser).until(
        lambda b: b.execute_script(
            "const v = document.getElementById('preview'); return v.readyState >= 2 && v.videoWidth > 0"
        )
    )


def challenge_digits(browser):
    value = visible(browser, "challenge-value")
    assert re.fullmatch(r"\d{4}", value.text), value.text
    return value.text


def record(browser, shot="video-recording"):
    """Starts recording, sees the countdown, the indicator and the timer,
    and waits for the preview of the clip."""
    # Keeps the clip the page makes, for recorded_clip(): reading it back
    # from its blob: URL would be a fetch the policy's connect-src refuses.
    browser.execute_script(
        "const make = URL.createObjectURL;"
        "URL.createObjectURL = (blob) => { window.recordedClip = blob; return make(blob); };"
    )
    click(browser, "record-button")
    countdown = visible(browser, "countdown")
    assert countdown.text in {"3", "2", "1"}
    indicator = visible(browser, "recording-indicator", seconds=5)
    assert "Recording" in indicator.text
    wait(browser).until(lambda b: b.find_element(By.ID, "recording-timer").text.startswith(("0:02", "0:03")))
    assert browser.find_element(By.ID, "challenge-value").is_displayed()  # still there to read from
    screenshot(browser, shot)
    visible(browser, "upload-button", seconds=RECORDING_SECONDS + WAIT_SECONDS)
    assert browser.find_element(By.ID, "retake-button").is_displayed()
    assert not browser.find_element(By.ID, "recording-indicator").is_displayed()


def recorded_clip(browser):
    """What the preview plays: MIME type, size, duration and loudness of the
    recorded clip, measured in the page."""
    return browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        Promise.resolve(window.recordedClip).then(async blob => {
          const audio = await new AudioContext().decodeAudioData(await blob.arrayBuffer());
          const samples = audio.getChannelData(0);
          let sum = 0;
          for (const s of samples) sum += s * s;
          done({type: blob.type, size: blob.size, seconds: audio.duration,
                rmsDbfs: 10 * Math.log10(sum / samples.length + 1e-12)});
        }).catch(e => done({error: String(e)}));
        """
    )


def upload(browser):
    """Uploads, watching the progress bar, and waits for the waiting view.
    Returns the waiting view and the form fields sent ({name: value or file
    name})."""
    browser.execute_script(
        """
        window.progressSeen = [];
        const bar = document.getElementById("upload-progress");
        new MutationObserver(() => window.progressSeen.push(bar.value))
          .observe(bar, {attributes: true, attributeFilter: ["value"]});
        const send = XMLHttpRequest.prototype.send;
        XMLHttpRequest.prototype.send = function (body) {
          if (body instanceof FormData) {
            window.formSent = {};
            for (const [key, value] of body.entries()) {
              window.formSent[key] = typeof value === "string" ? value : value.name;
            }
          }
          return send.call(this, body);
        };
        """
    )
    click(browser, "upload-button")
    waiting = visible(browser, "waiting", seconds=WAIT_SECONDS * 3)
    assert browser.execute_script("return window.progressSeen").count(100) >= 1
    assert browser.find_element(By.ID, "upload-progress").get_attribute("value") == "100"
    return waiting, browser.execute_script("return window.formSent")


def let_the_server_finish(session, seconds=WAIT_SECONDS * 3):
    """Runs the queued background work (the vendor call) until the attempt
    has an outcome, as the worker would."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run_due_tasks()
        session.refresh_from_db()
        if session.status in VerificationSession.OUTCOME_STATUSES:
            return session
        time.sleep(0.5)
    raise AssertionError(f"no outcome after {seconds} s: the session is {session.status}")


def result_after_reload(browser, waiting, kind):
    """The page reloads itself on the outcome and shows the result card."""
    wait(browser, WAIT_SECONDS * 2).until(left_the_page(waiting))
    return wait(browser).until(EC.visibility_of_element_located((By.CSS_SELECTOR, f"#result.{kind}")))


def steer(sandbox, vendor, **fields):
    """Queues the sandbox vendor's answer to its next call."""
    response = requests.post(f"{sandbox.url}/sandbox/{vendor}/steer", data=fields, timeout=WAIT_SECONDS)
    assert response.status_code == 201, response.text


# --- stories ---------------------------------------------------------------------------


def test_a_person_reads_the_lip_code_records_uploads_and_is_verified(sandbox, browser):
    session = new_session("tencent_lip")
    consent(browser, sandbox, session, shot="video-intro")
    assert "Record a short video" in browser.find_element(By.ID, "recorder").text

    open_camera(browser)
    code = challenge_digits(browser)
    instruction = browser.find_element(By.ID, "challenge-instruction").text
    assert "read these digits aloud, slowly" in instruction
    screenshot(browser, "video-instructions")
    session.refresh_from_db()
    assert (session.status, session.attempts_used, session.challenge_value) == ("in_progress", 1, code)

    record(browser)
    clip = recorded_clip(browser)
    assert clip["type"] in ("video/mp4", "video/webm"), clip
    assert 20_000 < clip["size"] < 2_500_000, clip
    assert clip["seconds"] >= RECORDING_SECONDS - 0.5, clip
    assert clip["rmsDbfs"] > -45, clip  # the speech survived the browser's noise suppression
    screenshot(browser, "video-preview")

    waiting, form = upload(browser)
    assert form["capture"] == "recorder"
    assert form["video"] == "recording." + clip["type"].split("/")[1]
    assert not browser.find_element(By.ID, "challenge-value").is_displayed()
    let_the_server_finish(session)
    passed = result_after_reload(browser, waiting, "passed")
    assert "You are verified" in passed.text
    assert not browser.find_elements(By.ID, "record-button")
    session.refresh_from_db()
    assert (session.status, session.passed, session.attempts_used) == ("passed", True, 1)


def test_a_person_reads_juhe_digits_retakes_once_and_is_verified(sandbox, browser):
    session = new_session("juhe_video", liveness_type=1)
    consent(browser, sandbox, session)

    open_camera(browser)
    code = challenge_digits(browser)
    record(browser, shot="juhe-digits-recording")
    click(browser, "retake-button")  # not happy with the first take
    visible(browser, "record-button")
    assert browser.find_element(By.ID, "challenge-value").text == code  # same attempt, same digits
    record(browser, shot="juhe-digits-recording-again")

    waiting, _ = upload(browser)
    let_the_server_finish(session)
    result_after_reload(browser, waiting, "passed")
    session.refresh_from_db()
    assert (session.status, session.attempts_used) == ("passed", 1)


def test_a_person_who_refuses_the_camera_is_told_how_to_allow_it_and_can_send_a_file(
    sandbox, refusing_browser, tmp_path
):
    browser = refusing_browser
    session = new_session("tencent_lip")
    consent(browser, sandbox, session)

    click(browser, "camera-button")
    help_text = visible(browser, "permission-help").text
    assert "Safari" in help_text and "Website Settings" in help_text  # iPhone
    assert "lock icon" in help_text and "Permissions" in help_text  # Android
    assert "blocked" in browser.find_element(By.ID, "fallback-reason").text
    assert browser.find_element(By.ID, "camera-retry-button").is_displayed()
    challenge_digits(browser)  # to read in the video they make themselves
    assert "In your video" in browser.find_element(By.ID, "challenge-instruction").text
    file_input = visible(browser, "file-input")
    assert file_input.get_attribute("accept") == "video/*"
    assert file_input.get_attribute("capture") == "user"
    assert not browser.find_element(By.ID, "record-button").is_displayed()
    screenshot(browser, "video-permission-refused")

    click(browser, "camera-retry-button")  # still refused: the same advice again
    visible(browser, "permission-help")
    assert not browser.find_element(By.ID, "record-button").is_displayed()

    # They record with the phone's camera app instead (an H.264/AAC MP4),
    # which takes them a while: a clip longer than the time since the
    # challenge appeared was made before it, and would be refused.
    clip = make_video(tmp_path / "VID_20250101_120000.mp4")
    factories.challenge_shown_ago(session, seconds=30)
    browser.find_element(By.ID, "file-input").send_keys(str(clip))
    visible(browser, "upload-button")
    wait(browser).until(
        lambda b: b.execute_script("return document.getElementById('review-video').readyState >= 1")
    )
    waiting, form = upload(browser)
    report = json.loads(form.pop("capture_report"))
    assert form == {"video": "VID_20250101_120000.mp4", "capture": "file"}
    assert (report["mime_type"], report["tracks"]) == ("video/mp4", []), "a chosen file comes from no track"
    let_the_server_finish(session)
    result_after_reload(browser, waiting, "passed")


def test_a_person_takes_a_selfie_photo_and_is_verified(sandbox, browser):
    session = new_session("tencent_photo")
    consent(browser, sandbox, session)
    assert "Take a selfie" in browser.find_element(By.ID, "recorder").text

    open_camera(browser)
    assert "Look straight at the camera" in browser.find_element(By.ID, "challenge-instruction").text
    assert not browser.find_element(By.ID, "challenge-value").is_displayed()
    click(browser, "record-button")
    photo = visible(browser, "review-photo", seconds=WAIT_SECONDS)
    size = browser.execute_script(
        "const i = arguments[0]; return i.complete && [i.naturalWidth, i.naturalHeight]", photo
    )
    assert size == [480, 640]
    screenshot(browser, "photo-preview")

    waiting, form = upload(browser)
    assert (form["photo"], form["capture"]) == ("photo.jpg", "recorder")
    let_the_server_finish(session)
    result_after_reload(browser, waiting, "passed")


def test_in_wechat_the_page_explains_and_offers_the_phone_camera_app(sandbox, wechat_browser):
    browser = wechat_browser
    session = new_session("juhe_video", liveness_type=2)
    consent(browser, sandbox, session)

    notice = visible(browser, "unsupported-reason").text
    assert "WeChat" in notice and "Open in browser" in notice
    click(browser, "camera-button")
    file_input = visible(browser, "file-input")
    assert file_input.get_attribute("accept") == "video/*"
    actions = browser.find_element(By.ID, "challenge-actions")
    assert actions.is_displayed() and len(actions.find_elements(By.TAG_NAME, "li")) >= 1
    assert browser.execute_script("return document.getElementById('preview').srcObject") is None
    screenshot(browser, "video-wechat")


def test_actions_are_shown_one_at_a_time_while_recording(sandbox, browser):
    session = new_session("juhe_video", liveness_type=2)
    consent(browser, sandbox, session)
    open_camera(browser)
    listed = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#challenge-actions li")]
    assert len(listed) >= 2, listed

    click(browser, "record-button")
    shown = []
    try:
        wait(browser, RECORDING_SECONDS + WAIT_SECONDS).until(
            lambda b: (
                shown.append(b.find_element(By.ID, "action-now").text)
                or b.find_element(By.ID, "upload-button").is_displayed()
            )
        )
    except TimeoutException:
        pytest.fail(f"the recording never ended; actions shown: {shown}")
    seen = [text for i, text in enumerate(shown) if text and text not in shown[:i]]
    assert [text.split(" · ")[-1] for text in seen] == listed


def test_a_person_whose_reading_did_not_match_tries_again_with_a_new_code_and_passes(sandbox, browser):
    session = new_session("tencent_lip")
    consent(browser, sandbox, session)
    open_camera(browser)
    challenge_digits(browser)
    steer(sandbox, "tencent", endpoint="livedetectfour", live_status="-5008")  # the digits did not match
    record(browser, shot="retry-first-recording")
    waiting, _ = upload(browser)
    let_the_server_finish(session)

    failed = result_after_reload(browser, waiting, "failed")
    assert "did not match" in failed.text
    assert not browser.find_element(By.ID, "recorder").is_displayed()
    screenshot(browser, "video-failed")
    click(browser, "retry-button")  # starts a new attempt, with a new code

    visible(browser, "record-button")
    assert "did not match" in browser.find_element(By.ID, "retry-advice").text  # the advice stays
    assert not browser.find_element(By.ID, "result").is_displayed()
    assert not browser.find_element(By.ID, "retry-button").is_displayed()
    challenge_digits(browser)
    screenshot(browser, "video-retry")
    session.refresh_from_db()
    assert (session.status, session.attempts_used) == ("in_progress", 2)
    record(browser, shot="retry-second-recording")
    waiting, _ = upload(browser)
    let_the_server_finish(session)
    result_after_reload(browser, waiting, "passed")
    session.refresh_from_db()
    assert (session.status, session.attempts_used) == ("passed", 2)
