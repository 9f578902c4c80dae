"""A reviewer, in a real browser, logs in to the back office, opens the
oldest session awaiting review, watches its evidence and approves it."""

from importlib import import_module

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.files.base import ContentFile
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from tests.support.browser import chromium, press, wait
from tests.support.media_samples import make_jpeg
from tests.support.factories import new_session
from verification.models import AuditEntry, ReviewDecision

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def reviewers_group() -> Group:
    """The group migration 0005 makes. The flush after an earlier
    transactional test (tests/flows/test_api_keys.py migrates back and forth)
    empties every table, and only post_migrate brings back its part
    (content types, permissions): the group is made again if it is gone."""
    group, created = Group.objects.get_or_create(name="reviewers")
    if created:
        codenames = import_module("verification.migrations.0005_review_groups").REVIEWERS
        group.permissions.set(Permission.objects.get(content_type__app_label=app, codename=codename)
                              for app, codename in codenames)
    return group


@pytest.fixture
def browser():
    """A desktop-sized Chromium: the back office is used at a desk."""
    driver = chromium(extra_args=("--window-size=1280,1000",), phone=False)
    yield driver
    driver.quit()


def test_a_reviewer_logs_in_and_approves_a_session(live_server, browser, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    rita = User.objects.create_user("rita", password="pw-rita-123", is_staff=True)
    rita.groups.add(reviewers_group())
    session = new_session(
        method="tencent_lip", external_ref="order-77", status="passed", passed=True, realname="张三",
        idcard="11010519491231002X", scores={"sim": 91, "sim_threshold": 80}, review_status="needs_review",
        review_reasons=["file_upload"],
    )
    session.face_image.save("face.jpg", ContentFile(make_jpeg()), save=True)

    browser.get(f"{live_server.url}/{settings.ADMIN_URL}")
    wait(browser).until(EC.visibility_of_element_located((By.ID, "id_username"))).send_keys("rita")
    browser.find_element(By.ID, "id_password").send_keys("pw-rita-123")
    browser.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()
    wait(browser).until(EC.presence_of_element_located((By.ID, "user-tools")))

    browser.get(f"{live_server.url}/{settings.ADMIN_URL}verification/verificationsession/")  # opens on the queue
    wait(browser).until(EC.element_to_be_clickable((By.LINK_TEXT, "order-77"))).click()
    wait(browser).until(EC.visibility_of_element_located((By.ID, "evidence")))
    face = browser.find_element(By.CSS_SELECTOR, "#faces img")
    wait(browser).until(lambda b: b.execute_script("return arguments[0].complete && arguments[0].naturalWidth", face))
    assert "张三" not in browser.page_source and "**************002X" in browser.page_source

    browser.find_element(By.CSS_SELECTOR, "#decision-form input[name=decision][value=approve]").click()
    browser.find_element(By.CSS_SELECTOR, "#decision-form textarea[name=note]").send_keys("Face and video match; lip code read correctly.")
    press(browser, "decide-button")

    wait(browser).until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#decision-messages .success")))
    session.refresh_from_db()
    assert session.review_status == "approved"
    assert ReviewDecision.objects.get().reviewer == rita
    assert set(AuditEntry.objects.values_list("action", flat=True)) >= {"view_session", "decide"}
    assert "face" in AuditEntry.objects.filter(action="view_session").first().detail
