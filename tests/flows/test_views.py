"""The end-user H5 flow, page by page, with Jumdata played by the sandbox over
real HTTP (or by a scripted stand-in where it has to misbehave)."""

import json
from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.conftest import run_due_tasks
from tests.support import factories
from verification.models import VendorCall, VerificationSession

pytestmark = pytest.mark.django_db(transaction=True)

S = VerificationSession.Status


def new_session(**kwargs):
    return factories.new_session(
        **{"method": "h5", "external_ref": "order-42", "max_attempts": 3, **kwargs}
    )


def consented_session(client, **kwargs):
    session = new_session(**kwargs)
    client.post(f"/v/{session.link_token}/consent", HTTP_USER_AGENT="TestPhone/1.0")
    return session


def start(client, session):
    response = client.post(f"/v/{session.link_token}/h5/start")
    assert response.status_code == 302
    return response["Location"]


def finish_on_sandbox(vendor_page_url, outcome):
    """The person on the sandbox's H5 page presses one of its buttons; the
    page then sends the browser back to our returnUrl."""
    page = requests.get(vendor_page_url)
    token = vendor_page_url.split("token=")[1]
    assert "SANDBOX" in page.text
    back = requests.post(
        vendor_page_url.split("/lifecheck/")[0] + "/h5/finish", data={"token": token, "outcome": outcome},
        allow_redirects=False,
    )
    return back.headers["Location"]


def path_of(url):
    return "/" + url.split("/", 3)[3]


def result_calls(session):
    return VendorCall.objects.filter(session=session, endpoint="result").count()


# --- the happy path and each outcome --------------------------------------------


def test_a_person_consents_passes_and_comes_back_verified(sandbox, client):
    session = new_session()

    entry = client.get(f"/v/{session.link_token}/")
    assert entry.status_code == 200 and "consent-button" in entry.text
    client.post(f"/v/{session.link_token}/consent", HTTP_USER_AGENT="TestPhone/1.0")
    vendor_page = start(client, session)
    assert vendor_page.startswith(f"{sandbox.url}/sandbox/jumdata/lifecheck/h5/v2/html?token=")
    return_url = finish_on_sandbox(vendor_page, "pass")
    assert return_url == f"{sandbox.url}/v/{session.link_token}/h5/return"

    back = client.get(path_of(return_url))

    assert back.status_code == 302 and back["Location"] == f"/v/{session.link_token}/?after=h5_return"
    session.refresh_from_db()
    assert (session.status, session.passed, session.vendor_code, session.attempts_used) == ("passed", True, "200", 1)
    assert session.consent_user_agent == "TestPhone/1.0" and session.consent_version
    assert not session.face_image  # the page did not wait for it: a worker fetches it
    run_due_tasks()
    session.refresh_from_db()
    assert session.face_image.read().startswith(b"\xff\xd8\xff")
    page = client.get(f"/v/{session.link_token}/")
    assert 'id="result"' in page.text and "passed" in page.text
    kept = json.dumps([list(VendorCall.objects.values_list("request_summary", "response_summary"))])
    assert session.link_token not in kept, kept
    assert session.vendor_token not in kept, "tokens work like passwords"


@pytest.mark.parametrize(
    "outcome, status, reason, retry",
    [("fail", S.FAILED, "not_passed", True), ("error", S.FAILED, "check_failed", True)],
)
def test_a_check_that_did_not_pass_says_so_and_offers_a_retry(sandbox, client, outcome, status, reason, retry):
    session = consented_session(client)
    client.get(path_of(finish_on_sandbox(start(client, session), outcome)))

    session.refresh_from_db()
    assert (session.status, session.reason, session.passed) == (status, reason, False)
    page = client.get(f"/v/{session.link_token}/")
    assert ("retry-button" in page.text) is retry
    assert not session.face_image


def test_reloading_the_return_page_never_asks_the_vendor_again(sandbox, client):
    session = consented_session(client)
    return_url = path_of(finish_on_sandbox(start(client, session), "fail"))

    client.get(return_url)
    client.get(return_url)
    client.get(f"/v/{session.link_token}/")

    session.refresh_from_db()
    assert result_calls(session) == 1
    assert (session.status, session.vendor_code) == ("failed", "202")


def test_leaving_without_finishing_shows_still_checking_and_polls(sandbox, client):
    session = consented_session(client)
    client.get(path_of(finish_on_sandbox(start(client, session), "abandon")))

    session.refresh_from_db()
    assert (session.status, session.reason) == ("processing", "awaiting_result")
    page = client.get(f"/v/{session.link_token}/")
    assert "status-poll.js" in page.text and "continue-button" in page.text
    quick_poll = DBTaskResult.objects.filter(args_kwargs__args__2=1).get()
    assert timezone.now() < quick_poll.run_after < timezone.now() + timedelta(seconds=3)


def test_continuing_an_unfinished_check_reuses_the_vendor_token(sandbox, client):
    session = consented_session(client)
    first = start(client, session)
    client.get(path_of(finish_on_sandbox(first, "abandon")))

    again = start(client, session)

    assert again == first
    assert VendorCall.objects.filter(endpoint="init").count() == 1


def test_a_dead_vendor_token_expires_the_attempt_and_allows_a_new_one(sandbox, client, settings):
    session = consented_session(client, max_attempts=2)
    start(client, session)
    settings.SANDBOX_JUMDATA_TOKEN_TTL = 0  # ten minutes pass on the vendor's side

    client.get(f"/v/{session.link_token}/h5/return")

    session.refresh_from_db()
    assert (session.status, session.vendor_code, session.reason) == ("expired", "301", "token_expired")
    assert "retry-button" in client.get(f"/v/{session.link_token}/").text
    settings.SANDBOX_JUMDATA_TOKEN_TTL = 600
    client.get(path_of(finish_on_sandbox(start(client, session), "pass")))
    session.refresh_from_db()
    assert (session.status, session.attempts_used) == ("passed", 2)


def test_no_attempt_starts_beyond_the_limit(sandbox, client):
    session = consented_session(client, max_attempts=1)
    client.get(path_of(finish_on_sandbox(start(client, session), "fail")))

    response = client.post(f"/v/{session.link_token}/h5/start")

    assert response.status_code == 409
    assert VendorCall.objects.filter(endpoint="init").count() == 1
    assert "retry-button" not in client.get(f"/v/{session.link_token}/").text


def test_a_started_check_is_reconciled_before_its_token_dies(sandbox, client, settings):
    session = consented_session(client)
    start(client, session)
    session.refresh_from_db()

    (task,) = DBTaskResult.objects.all()
    assert task.task_path == "verification.services.hosted.collect_hosted_result"
    expected = session.vendor_token_expires_at - timedelta(seconds=settings.JUMDATA_RECONCILE_BEFORE_EXPIRY_SECONDS)
    assert session.result_poll_due_at == task.run_after == expected
    assert task.args_kwargs["args"] == [str(session.pk), session.vendor_token, 0, expected.isoformat()]


# --- steps out of order and bad links ----------------------------------------------


def test_an_unknown_link_is_a_404_page(client, db):
    response = client.get("/v/not-a-real-token/")
    assert response.status_code == 404 and "<html" in response.text


def test_starting_before_consent_is_refused_with_an_explanation(client, jumdata_double):
    session = new_session()

    response = client.post(f"/v/{session.link_token}/h5/start")

    assert response.status_code == 403
    assert jumdata_double.requests == []
    session.refresh_from_db()
    assert session.status == "created" and session.attempts_used == 0


def test_returning_without_a_start_is_refused(client, jumdata_double):
    session = new_session()
    response = client.get(f"/v/{session.link_token}/h5/return")
    assert response.status_code == 409
    assert jumdata_double.requests == []


def test_an_expired_link_says_so(client, jumdata_double):
    session = new_session(expires_at=timezone.now() - timedelta(minutes=1))

    page = client.get(f"/v/{session.link_token}/")
    start_attempt = client.post(f"/v/{session.link_token}/h5/start")

    assert page.status_code == 410 and start_attempt.status_code == 410
    session.refresh_from_db()
    assert (session.status, session.reason) == ("expired", "link_expired")
    assert jumdata_double.requests == []


def test_wrong_http_methods_are_refused(client, db):
    session = new_session()
    assert client.get(f"/v/{session.link_token}/consent").status_code == 405
    assert client.post(f"/v/{session.link_token}/status").status_code == 405


# --- vendor faults ------------------------------------------------------------------


def test_a_vendor_that_is_down_gives_a_retryable_error_and_costs_no_attempt(client, settings, db):
    settings.JUMDATA_BASE_URL = "http://127.0.0.1:9"
    session = consented_session(client)

    response = client.post(f"/v/{session.link_token}/h5/start")

    assert response.status_code == 302 and response["Location"] == f"/v/{session.link_token}/"
    session.refresh_from_db()
    assert (session.status, session.reason, session.attempts_used) == ("error", "vendor_unavailable", 0)
    page = client.get(f"/v/{session.link_token}/")
    assert page.status_code == 200 and "retry-button" in page.text and "Traceback" not in page.text
    assert VendorCall.objects.get(endpoint="init").error.startswith("VendorConnectionError")


def test_a_vendor_answering_html_at_init_is_a_retryable_error(client, jumdata_double):
    jumdata_double.respond = lambda r: (200, {"Content-Type": "text/html"}, b"<html>down</html>")
    session = consented_session(client)

    client.post(f"/v/{session.link_token}/h5/start")

    session.refresh_from_db()
    assert session.status == "error" and session.retry_allowed


def test_a_permanent_vendor_refusal_is_an_error_without_retry(client, jumdata_double):
    jumdata_double.respond = lambda r: (200, {"Content-Type": "application/json"}, b'{"code": 602, "msg": "x"}')
    session = consented_session(client)

    client.post(f"/v/{session.link_token}/h5/start")

    session.refresh_from_db()
    assert (session.status, session.vendor_code, session.retry_allowed) == ("error", "602", False)
    assert session.attempts_used == 0, "a refused init was not billed"


def test_garbage_from_result_keeps_checking_in_the_background(client, jumdata_double):
    replies = iter([
        (200, {"Content-Type": "application/json"}, json.dumps({"code": 200, "charge": True, "data": {"token": "t"}}).encode()),
        (200, {"Content-Type": "application/json"}, b"\xff\xfe garbage"),
    ])
    jumdata_double.respond = lambda r: next(replies)
    session = consented_session(client)
    client.post(f"/v/{session.link_token}/h5/start")

    response = client.get(f"/v/{session.link_token}/h5/return")

    assert response.status_code == 302
    session.refresh_from_db()
    assert (session.status, session.reason) == ("processing", "vendor_unavailable")
    assert DBTaskResult.objects.filter(args_kwargs__args__2=1).exists()


# --- what the user is told --------------------------------------------------------


def test_status_tells_the_user_what_they_need_and_nothing_more(sandbox, client):
    session = consented_session(client, locale="en")
    client.get(path_of(finish_on_sandbox(start(client, session), "fail")))

    body = client.get(f"/v/{session.link_token}/status").json()

    assert body == {
        "status": "failed",
        "message": "The liveness check did not pass. Face the camera in good light, follow the prompts, and try again.",
        "retry_allowed": True,
        "opened_elsewhere": False,
        "vendor_up": True,
    }


def test_pages_speak_chinese_by_default_and_english_when_asked(client, db):
    chinese = new_session()
    english = new_session(locale="en")
    assert "我同意" in client.get(f"/v/{chinese.link_token}/").text
    assert "I agree" in client.get(f"/v/{english.link_token}/").text


def test_every_page_is_labelled_as_sandbox(client, db):
    session = new_session()
    assert "SANDBOX" in client.get(f"/v/{session.link_token}/").text


# --- h5 with a name and ID number: the face is compared with the ID photo ------------


@pytest.mark.parametrize("realname, status, reason", [("张三", "passed", "passed"), ("李不像", "failed", "face_mismatch")])
def test_an_h5_face_is_compared_with_the_id_photo(sandbox, client, realname, status, reason):
    session = consented_session(client, realname=realname, idcard="11010519491231002X")
    client.get(path_of(finish_on_sandbox(start(client, session), "pass")))

    session.refresh_from_db()
    assert (session.status, session.reason) == (status, reason)
    compare = VendorCall.objects.get(endpoint="idcardcompare")
    # Tencent was given the face's URL; the row keeps only whose server it was on.
    assert compare.vendor == "tencent" and compare.request_summary["url"] == f"{sandbox.url}/…"
    assert session.scores["similarity_threshold"] == 75.0
    run_due_tasks()
    session.refresh_from_db()
    assert session.face_image


# --- the newcomer's landing page ------------------------------------------------------


@pytest.mark.parametrize("method", ["h5", "tencent_lip", "tencent_idcard", "juhe_video", "juhe_video_auth", "tencent_photo",
                                    "faceid_h5", "faceid_lip"])
def test_the_landing_page_starts_a_demo_of_each_method(client, db, method):
    assert f'id="demo-{method}"' in client.get("/").text

    response = client.post("/demo/sessions", {"method": method})

    session = VerificationSession.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/v/{session.link_token}/"
    assert session.method == method and session.external_ref == "demo"


def test_there_is_no_demo_in_live_mode_without_debug(client, db, settings):
    settings.SANDBOX_MODE = False
    settings.DEBUG = False
    assert client.get("/").status_code == 404
    assert client.post("/demo/sessions", {"method": "h5"}).status_code == 404
