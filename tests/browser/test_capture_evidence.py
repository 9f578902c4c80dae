"""Time and the capture device as evidence, in a real headless Chromium with
its fake camera: the page reports what the browser says about the capture,
a camera named as virtual gets the session flagged (the person sees nothing
of it) and the reviewer sees the facts; a challenge that expires before the
upload is replaced in the page and recorded again. Time moves by patching
django.utils.timezone.now (the live server runs in this process)."""

import json
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from tests.browser.test_video import (  # noqa: F401  (fixtures)
    challenge_digits, chromium_args, click, consent, fake_media, let_the_server_finish, new_session, open_camera,
    record, result_after_reload, upload, visible,
)
from tests.support.browser import WAIT_SECONDS, screenshot, wait
from verification.models import AuditEntry, Submission, VendorCall

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_chromiums_fake_camera_named_virtual_gets_the_session_flagged_and_the_reviewer_sees_why(
    sandbox, browser, settings, request
):
    # Chromium names its fake camera after the file it plays: named here as
    # a virtual camera, it stands in for OBS and the like.
    media = request.getfixturevalue("fake_media")
    settings.KYC_VIRTUAL_CAMERA_LABELS = [media.video.name]
    session = new_session("tencent_lip")
    consent(browser, sandbox, session)
    open_camera(browser)
    challenge_digits(browser)
    record(browser)

    waiting, form = upload(browser)
    sent = json.loads(form["capture_report"])
    let_the_server_finish(session)
    result = result_after_reload(browser, waiting, "passed")

    assert "You are verified" in result.text, "nothing in the capture decides the outcome"
    assert not any(word in browser.page_source.lower() for word in ("virtual", media.video.name, "review"))
    session.refresh_from_db()
    assert (session.status, session.needs_review, session.review_reasons) == ("passed", True, ["virtual_camera"])
    report = Submission.objects.get().capture_report
    assert report == sent
    video = next(track for track in report["tracks"] if track["kind"] == "video")
    assert video["label"].endswith(media.video.name) and video["width"] > 0 and video["height"] > 0
    assert video["frame_rate"] > 0
    assert any(device["kind"] == "videoinput" and device["label"] for device in report["devices"]), \
        "labels are readable once the camera is allowed"
    assert report["mime_type"].startswith(("video/mp4", "video/webm")) and report["hidden_count"] == 0
    assert "review: virtual_camera" in AuditEntry.objects.get(action="capture").detail

    # The reviewer opens the case.
    User.objects.create_superuser("sam", password="pw-sam-123")
    browser.get(f"{sandbox.url}/{settings.ADMIN_URL}")
    wait(browser).until(EC.visibility_of_element_located((By.ID, "id_username"))).send_keys("sam")
    browser.find_element(By.ID, "id_password").send_keys("pw-sam-123")
    browser.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()
    wait(browser).until(EC.presence_of_element_located((By.ID, "user-tools")))
    browser.get(f"{sandbox.url}/{settings.ADMIN_URL}verification/verificationsession/{session.pk}/change/")
    facts = wait(browser).until(EC.visibility_of_element_located((By.ID, "capture-facts")))
    screenshot(browser, "capture-facts")
    camera = facts.find_element(By.CSS_SELECTOR, ".capture-camera").text
    assert video["label"] in camera and f"{video['width']}×{video['height']}" in camera
    assert facts.find_element(By.CSS_SELECTOR, ".capture-camera .capture-virtual").is_displayed()
    assert facts.find_element(By.CSS_SELECTOR, "[data-reason=virtual_camera]").is_displayed()
    assert report["mime_type"] in facts.find_element(By.CSS_SELECTOR, ".capture-mime").text


def test_a_challenge_that_expires_before_the_upload_is_replaced_in_the_page_and_recorded_again(
    sandbox, browser, settings
):
    settings.KYC_CHALLENGE_TTL_SECONDS = 120
    settings.KYC_VIRTUAL_CAMERA_LABELS = []
    session = new_session("tencent_lip")
    consent(browser, sandbox, session)
    open_camera(browser)
    first = challenge_digits(browser)
    record(browser)

    real_now = timezone.now
    with mock.patch("django.utils.timezone.now", side_effect=lambda: real_now() + timedelta(seconds=200)):
        click(browser, "upload-button")  # the person left it three minutes before sending
        error = visible(browser, "record-error", seconds=WAIT_SECONDS * 2)
        assert "has expired" in error.text and "A new one is ready" in error.text
        visible(browser, "record-button")
        wait(browser).until(lambda b: b.find_element(By.ID, "challenge-value").text not in ("", first))
        second = challenge_digits(browser)
        assert not Submission.objects.exists() and not VendorCall.objects.filter(endpoint="livedetectfour").exists()

        record(browser, shot="video-recording-after-expiry")
        waiting, _ = upload(browser)
        let_the_server_finish(session)
        result_after_reload(browser, waiting, "passed")

    session.refresh_from_db()
    assert (session.status, session.attempts_used, session.review_reasons) == ("passed", 1, []), \
        "the page's own recording, from a real camera: nothing to review"
    assert Submission.objects.get().challenge_value == second != first
    assert VendorCall.objects.filter(endpoint="livegetfour").count() == 2
