"""The back office as a day's work, in a real browser on a 1366×768 screen,
in English and in Chinese: a reviewer opens the queue, takes the next case,
sees the evidence, decides, and moves on to the next case; a supervisor
reassigns a case and confirms a four-eyes decision.

Screenshots: BROWSER_SCREENSHOT_DIR=/tmp/shots pytest tests/browser/test_review_queue.py"""

from datetime import timedelta
from importlib import import_module

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.files.base import ContentFile
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from tests.support.browser import chromium, press, screenshot, wait
from tests.support.factories import new_session
from tests.support.media_samples import make_jpeg, video_bytes
from verification.models import AuditEntry, ReviewDecision, SessionImage, Submission, VendorCall, VerificationSession

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WORDS = {
    "en": {"accept": "en-US,en", "next": "Next case", "decided": "Decision recorded.", "empty": "No case is waiting"},
    "zh": {"accept": "zh-CN,zh", "next": "下一个案件", "decided": "审核决定已记录。", "empty": "没有等待您的案件"},
}


def group(name: str) -> Group:
    """The group its migration makes (made again after a flush emptied it)."""
    found, created = Group.objects.get_or_create(name=name)
    if created:
        module, attribute = {"reviewers": ("0005_review_groups", "REVIEWERS"),
                             "supervisors": ("0005_review_groups", "SUPERVISORS")}[name]
        codenames = list(getattr(import_module(f"verification.migrations.{module}"), attribute))
        if name == "supervisors":
            codenames += [("verification", "reassign_case")]
        found.permissions.set(Permission.objects.get(content_type__app_label=app, codename=codename)
                              for app, codename in codenames)
    return found


def person(username: str, group_name: str) -> User:
    user = User.objects.create_user(username, password=f"pw-{username}-123", is_staff=True)
    user.groups.add(group(group_name))
    return user


def desk_browser(lang: str):
    """Chromium on a 1366×768 laptop screen, speaking `lang`."""
    return chromium(extra_args=("--window-size=1366,768", f"--lang={WORDS[lang]['accept'].split(',')[0]}"),
                    phone=False, prefs={"intl.accept_languages": WORDS[lang]["accept"]})


def sign_in(browser, live_server, settings, username):
    browser.get(f"{live_server.url}/{settings.ADMIN_URL}")
    wait(browser).until(EC.visibility_of_element_located((By.ID, "id_username"))).send_keys(username)
    browser.find_element(By.ID, "id_password").send_keys(f"pw-{username}-123")
    browser.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()
    wait(browser).until(EC.presence_of_element_located((By.ID, "user-tools")))


def queued_case(ref: str, hours: float, **fields) -> VerificationSession:
    defaults = dict(method="tencent_lip", status="failed", passed=False, reason="face_mismatch", attempts_used=1,
                    realname="张三", idcard="11010519491231002X", scores={"sim": 76, "sim_threshold": 80},
                    vendor_code="0", outcome_vendor="tencent", review_status="needs_review", needs_review=True,
                    review_reasons=["file_upload", "score_near_threshold"], challenge_kind="lip_code",
                    challenge_value="4729")
    session = new_session(external_ref=ref, **{**defaults, **fields})
    session.face_image.save("face.jpg", ContentFile(make_jpeg()), save=True)
    at = timezone.now() - timedelta(hours=hours)
    VerificationSession.objects.filter(pk=session.pk).update(created_at=at, queued_at=at, completed_at=at)
    SessionImage.objects.create(session=session, attempt=1, kind="best_frame",
                                image=ContentFile(make_jpeg(moment=0.4), name="best.jpg"))
    Submission.objects.create(session=session, attempt=1, kind="video", capture="file", content_sha256=ref[:1] * 64,
                              challenge_kind="lip_code", challenge_value="4729", state="answered",
                              original=ContentFile(video_bytes(seconds=2.0), name="orig.mp4"),
                              facts={"container": "mp4", "video_codec": "h264", "audio_codec": "aac", "width": 480,
                                     "height": 640, "duration": 2.0})
    VendorCall.objects.create(session=session, vendor="tencent", endpoint="livegetfour", vendor_code="0", billed=True)
    VendorCall.objects.create(session=session, vendor="tencent", endpoint="livedetectfour", vendor_code="0",
                              billed=True, latency_ms=812)
    return session


def no_sideways_scroll(browser) -> bool:
    """Neither the page nor the list's own box scrolls sideways."""
    return browser.execute_script(
        "const results = document.querySelector('#changelist .results');"
        "return document.documentElement.scrollWidth <= window.innerWidth"
        " && (!results || results.scrollWidth <= results.clientWidth);")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_reviewer_works_through_the_queue(live_server, settings, tmp_path, lang):
    settings.MEDIA_ROOT = tmp_path
    settings.KYC_FOUR_EYES = False
    person("rita", "reviewers")
    oldest = queued_case("order-101", 30)
    second = queued_case("order-102", 3, reason="identity_mismatch", review_reasons=["identity_mismatch"])
    new_session(method="h5", external_ref="order-auto", status="passed", passed=True)  # not_needed: not queued
    browser = desk_browser(lang)
    try:
        sign_in(browser, live_server, settings, "rita")
        browser.get(f"{live_server.url}/{settings.ADMIN_URL}verification/verificationsession/")
        wait(browser).until(EC.presence_of_element_located((By.ID, "result_list")))
        rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")]
        assert [ref for ref in ("order-101", "order-102", "order-auto") if any(ref in r for r in rows)] == [
            "order-101", "order-102"]
        assert "order-101" in rows[0] and browser.find_elements(By.CSS_SELECTOR, "#result_list .sla")
        assert no_sideways_scroll(browser), "the queue scrolls sideways at 1366 px"
        screenshot(browser, f"queue-{lang}")

        # Next case: the oldest, claimed for rita, evidence first.
        assert browser.find_element(By.ID, "next-case").text == WORDS[lang]["next"]
        press(browser, "next-case")
        wait(browser).until(EC.visibility_of_element_located((By.ID, "evidence")))
        assert oldest.external_ref in browser.title or oldest.external_ref in browser.page_source
        for image in browser.find_elements(By.CSS_SELECTOR, "#faces img"):
            wait(browser).until(lambda b, i=image: b.execute_script("return arguments[0].complete && arguments[0].naturalWidth", i))
        assert len(browser.find_elements(By.CSS_SELECTOR, "#faces img")) == 2
        assert browser.find_element(By.CSS_SELECTOR, "#attempts .challenge-value").text == "4729"
        assert browser.find_elements(By.CSS_SELECTOR, "#scores .score-threshold")
        assert not browser.find_element(By.ID, "raw-fields").get_attribute("open")
        evidence_top = browser.find_element(By.ID, "evidence").location["y"]
        assert evidence_top < browser.find_element(By.ID, "decision").location["y"] < browser.find_element(
            By.ID, "timeline").location["y"]
        assert no_sideways_scroll(browser), "the case page scrolls sideways at 1366 px"
        assert "张三" not in browser.page_source
        screenshot(browser, f"case-{lang}")

        # Decide: nothing preselected; a choice and a note.
        radios = browser.find_elements(By.CSS_SELECTOR, "#decision-form input[name=decision]")
        assert radios and not any(r.is_selected() for r in radios)
        browser.find_element(By.CSS_SELECTOR, "#decision-form input[value=reject]").click()
        browser.find_element(By.CSS_SELECTOR, "#decision-form textarea[name=note]").send_keys(
            "The face does not match the best frame.")
        press(browser, "decide-button")
        message = wait(browser).until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#decision-messages .success")))
        assert message.text == WORDS[lang]["decided"]
        # Where the reviewer was looking: the answer is on screen, not above it.
        assert browser.execute_script(
            "const r = arguments[0].getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight",
            message)
        screenshot(browser, f"decided-{lang}")
        oldest.refresh_from_db()
        assert (oldest.review_status, oldest.claimed_by) == ("rejected", None)

        # The next case is the other one; then the queue is empty.
        press(browser, "next-case")
        wait(browser).until(EC.visibility_of_element_located((By.ID, "evidence")))
        assert "order-102" in browser.page_source
        second.refresh_from_db()
        assert second.claimed_by.username == "rita"
        browser.find_element(By.CSS_SELECTOR, "#decision-form input[value=approve]").click()
        browser.find_element(By.CSS_SELECTOR, "#decision-form textarea[name=note]").send_keys("Checked by phone.")
        press(browser, "decide-button")
        press(browser, "next-case")
        assert WORDS[lang]["empty"] in wait(browser).until(
            EC.visibility_of_element_located((By.CSS_SELECTOR, ".messagelist .info"))).text
    finally:
        browser.quit()
    assert list(ReviewDecision.objects.order_by("pk").values_list("decision", flat=True)) == ["reject", "approve"]
    views = AuditEntry.objects.filter(action="view_session", session_ref=oldest.pk)
    assert views.exists() and all("face" in v.detail and "original#1" in v.detail for v in views)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_supervisor_reassigns_and_confirms_four_eyes(live_server, settings, tmp_path, lang):
    settings.MEDIA_ROOT = tmp_path
    settings.KYC_FOUR_EYES = True
    rita = person("rita", "reviewers")
    ruth = person("ruth", "reviewers")
    person("sam", "supervisors")
    held = queued_case("order-201", 5)
    waiting = queued_case("order-202", 2)
    from verification.services import review

    review.case_claim(session=held, reviewer=rita)
    review.session_decide(session=waiting, reviewer=ruth, decision="reject", note="Another person.")
    browser = desk_browser(lang)
    try:
        sign_in(browser, live_server, settings, "sam")
        browser.get(f"{live_server.url}/{settings.ADMIN_URL}verification/verificationsession/{held.pk}/change/")
        wait(browser).until(EC.visibility_of_element_located((By.ID, "reassign-form")))
        assert "rita" in browser.find_element(By.ID, "holder").text
        assert not browser.find_elements(By.ID, "decision-form")  # rita holds it
        browser.find_element(By.CSS_SELECTOR, f"#reassign-to option[value='{ruth.pk}']").click()
        screenshot(browser, f"reassign-{lang}")
        press(browser, "reassign-button")
        assert "ruth" in wait(browser).until(EC.visibility_of_element_located((By.ID, "holder"))).text
        held.refresh_from_db()
        assert held.claimed_by == ruth

        browser.get(f"{live_server.url}/{settings.ADMIN_URL}verification/verificationsession/{waiting.pk}/change/")
        decision = ReviewDecision.objects.get(session=waiting)
        wait(browser).until(EC.visibility_of_element_located((By.ID, "decision")))
        assert browser.find_element(By.CSS_SELECTOR, "#reasons [data-code=four_eyes]")
        assert no_sideways_scroll(browser)
        screenshot(browser, f"four-eyes-{lang}")
        press(browser, f"confirm-{decision.pk}")
        wait(browser).until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#decision-messages .success")))

        # What the compliance lead watches: one case left in the queue, one decision, overturning nothing.
        browser.get(f"{live_server.url}/{settings.ADMIN_URL}verification/dashboard/")
        size = wait(browser).until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#queue-size dd strong")))
        assert size.text == "1"
        assert browser.find_element(By.CSS_SELECTOR, "#overturn-rate dd strong").text == "0%"
        assert browser.find_element(By.ID, "decisions-per-reviewer")
        assert no_sideways_scroll(browser)
        screenshot(browser, f"dashboard-{lang}")
    finally:
        browser.quit()
    waiting.refresh_from_db()
    assert waiting.review_status == "rejected"
    assert AuditEntry.objects.filter(action="reassign", actor_name="sam", detail="to ruth").exists()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_supervisor_erases_after_seeing_what_will_go(live_server, settings, tmp_path, lang):
    settings.MEDIA_ROOT = tmp_path
    person("sam", "supervisors")
    group("supervisors").permissions.add(Permission.objects.get(codename="purge_sessions"))
    first, second = queued_case("order-301", 5), queued_case("order-302", 4)
    kept = queued_case("order-303", 3)
    browser = desk_browser(lang)
    try:
        sign_in(browser, live_server, settings, "sam")
        browser.get(f"{live_server.url}/{settings.ADMIN_URL}verification/verificationsession/")
        wait(browser).until(EC.presence_of_element_located((By.ID, "result_list")))
        for session in (first, second):
            browser.find_element(By.CSS_SELECTOR, f"input.action-select[value='{session.pk}']").click()
        browser.find_element(By.CSS_SELECTOR, "select[name=action] option[value=erase_personal_data]").click()
        browser.find_element(By.CSS_SELECTOR, "#changelist-form button[name=index]").click()
        wait(browser).until(EC.visibility_of_element_located((By.ID, "erase-confirmation")))
        # Nothing has gone yet; the page says what will: 3 files each (face, best frame, upload).
        first.refresh_from_db()
        assert first.idcard and first.face_image
        assert "6" in browser.find_element(By.ID, "erase-total").text
        assert len(browser.find_elements(By.CSS_SELECTOR, "#erase-sessions li")) == 2
        assert len(browser.find_elements(By.CSS_SELECTOR, "#erase-fields li")) == 8
        assert no_sideways_scroll(browser)
        screenshot(browser, f"erase-confirm-{lang}")
        press(browser, "confirm-erase")
        wait(browser).until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".messagelist .success")))
    finally:
        browser.quit()
    for session in (first, second):
        session.refresh_from_db()
        assert (session.realname, session.idcard, bool(session.face_image)) == ("", "", False)
    kept.refresh_from_db()
    assert kept.idcard and kept.face_image
    assert AuditEntry.objects.filter(action="erase", actor_name="sam").count() == 2
