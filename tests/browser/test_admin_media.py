"""A reviewer, in a real Chromium, opens every media link of a session built
to attack them: uploads named `x.html`, `x.svg` and `x.xhtml` carrying
scripts, and files an older version could have stored under those names,
markup and all. No script may run: not in the evidence page, not in any
media document opened on its own.

A script that ran would leave marks: the document's title and window.name
set, and a request to a marker server (a control page proves the marks
would show)."""

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from tests.support.browser import chromium, wait
from tests.conftest import run_due_tasks
from tests.support.http_double import HttpDouble
from tests.support.media_samples import make_png, make_video
from tests.support.factories import challenge_shown_ago, new_session
from verification.models import AuditEntry, SessionImage, Submission, VerificationSession

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MARK = "pwned"


def attack(marker_url: str) -> dict[str, bytes]:
    """Markup in each form a browser would run, each leaving every mark."""
    script = (f"document.title='{MARK}';window.name='{MARK}';"
              f"new Image().src='{marker_url}/hit';fetch('{marker_url}/hit-fetch',{{mode:'no-cors'}})")
    return {
        "html": f"<!doctype html><html><body><script>{script}</script></body></html>".encode(),
        "svg": f'<svg xmlns="http://www.w3.org/2000/svg"><script>{script}</script></svg>'.encode(),
        "xhtml": f'<html xmlns="http://www.w3.org/1999/xhtml"><body><script>{script}</script></body></html>'.encode(),
    }


@pytest.fixture
def marker():
    """Records every request; serves the attack's HTML as a control page."""
    with HttpDouble() as server:
        control = attack(server.url)["html"]
        server.respond = lambda request: (200, {"Content-Type": "text/html"}, control if request.path == "/control"
                                          else b"")
        yield server


@pytest.fixture
def browser(tmp_path):
    driver = chromium(extra_args=("--window-size=1280,1000",), phone=False, prefs={
        "download.default_directory": str(tmp_path / "downloads"), "download.prompt_for_download": False,
    })
    yield driver
    driver.quit()


def attacked_session(marker_url, tmp_path) -> VerificationSession:
    """Through the portal: a real video named x.html with a script after its
    last atom, and markup named x.svg and x.xhtml (refused). Then rows an
    older version could have left: the client's extensions, markup inside."""
    markup = attack(marker_url)
    session = new_session(method="tencent_lip", external_ref="attacked")
    person = Client()
    person.post(f"/v/{session.link_token}/consent")
    person.post(f"/v/{session.link_token}/challenge")
    challenge_shown_ago(session)
    for name, content, expected in [
        ("x.svg", markup["svg"], 415),
        ("x.xhtml", markup["xhtml"], 415),
        ("x.html", make_video(tmp_path / "v.mp4").read_bytes() + markup["html"], 202),
    ]:
        upload = SimpleUploadedFile(name, content, content_type="text/html")
        assert person.post(f"/v/{session.link_token}/video", {"video": upload, "capture": "file"}).status_code == expected
    run_due_tasks()  # normalised and sent: the normalised video is one more link
    session.refresh_from_db()
    assert session.status == "passed" and session.submissions.get().normalised

    for attempt, kind in [(2, "html"), (3, "xhtml"), (4, "svg")]:
        Submission.objects.create(session=session, attempt=attempt, kind="photo", capture="file",
                                  content_sha256=f"{attempt}" * 64, original=ContentFile(markup[kind], name=f"x.{kind}"))
    SessionImage.objects.create(session=session, attempt=1, kind="best_frame", image=ContentFile(markup["svg"], name="x.svg"))
    SessionImage.objects.create(session=session, attempt=1, kind="vendor_photo",
                                image=ContentFile(markup["html"], name="looks-like.jpg"))
    SessionImage.objects.create(session=session, attempt=1, kind="vendor_picture",
                                image=ContentFile(make_png(), name="genuine.png"))
    session.face_image.save("x.xhtml", ContentFile(markup["xhtml"]), save=False)
    session.reference_photo.save("x.html", ContentFile(markup["html"]), save=False)
    session.save()
    return session


def log_in(browser, live_server, settings):
    rita = User.objects.create_user("rita", password="pw-rita-123", is_staff=True)
    rita.user_permissions.set(Permission.objects.filter(codename__in=["view_verificationsession", "view_media"]))
    browser.get(f"{live_server.url}/{settings.ADMIN_URL}")
    wait(browser).until(EC.visibility_of_element_located((By.ID, "id_username"))).send_keys("rita")
    browser.find_element(By.ID, "id_password").send_keys("pw-rita-123")
    browser.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()
    wait(browser).until(EC.presence_of_element_located((By.ID, "user-tools")))


def marks(browser) -> tuple[str, str]:
    return tuple(browser.execute_script("return [document.title, window.name]"))


def test_no_script_runs_in_any_media_link_of_an_attacked_session(sandbox, browser, marker, settings, tmp_path):
    session = attacked_session(marker.url, tmp_path)
    log_in(browser, sandbox, settings)

    browser.get(f"{sandbox.url}/{settings.ADMIN_URL}verification/verificationsession/{session.pk}/change/")
    wait(browser).until(EC.visibility_of_element_located((By.ID, "evidence")))
    links = [element.get_attribute("src") for element in
             browser.find_elements(By.CSS_SELECTOR, "#evidence img[src], #evidence video[src]")]
    # original and normalised video, three legacy uploads, three images, face, reference
    assert len(links) == 10 and len(set(links)) == 10
    assert MARK not in marks(browser)

    opened = []
    for link in links:
        browser.get(link)
        wait(browser).until(lambda b: b.execute_script("return document.readyState") == "complete")
        title, name = marks(browser)
        assert MARK not in (title, name), link
        opened.append((link, browser.current_url, browser.execute_script(
            "const i = document.images[0]; return i ? i.naturalWidth : null")))

    # The genuine picture still shows when opened on its own, policy and all.
    genuine = session.images.get(kind="vendor_picture").public_id
    assert [width for link, _url, width in opened if str(genuine) in link] == [480]
    assert not [r.path for r in marker.requests], "a script in a media file reached the marker server"
    # One entry for the page, naming the ten media it showed; links opened
    # from it add none.
    (entry,) = AuditEntry.objects.filter(action="view_session", actor_name="rita")
    assert len(entry.detail.removeprefix("shown: ").split(", ")) == 10
    assert not AuditEntry.objects.filter(action="view_media").exists()

    # The control: the same markup served as a page of its own does leave every mark.
    browser.get(f"{marker.url}/control")
    wait(browser).until(lambda b: {"/hit", "/hit-fetch"} <= {r.path for r in marker.requests})
    assert marks(browser) == (MARK, MARK)
