"""The session resource integrators read, answers that are JSON whatever
happens under /api/, and the rate-limit headers on every answer."""

import pytest

from tests.support.factories import new_session
from verification.models import VerificationSession

pytestmark = pytest.mark.django_db

S = VerificationSession.Status


def get(client, who, path):
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {who.key}")


def test_a_reviewers_ask_to_try_again_shows_as_one_more_attempt(client, alice):
    session = new_session(client=alice, method="tencent_lip", external_ref="r", status=S.FAILED, passed=False,
                          reason="not_live", retryable=True, attempts_used=3, max_attempts=3,
                          vendor_code="-4006", outcome_vendor="tencent")
    before = get(client, alice, f"/api/v1/sessions/{session.pk}").json()

    session.allow_one_more_attempt()
    after = get(client, alice, f"/api/v1/sessions/{session.pk}").json()

    assert (before["attempts_used"], before["attempts_left"], before["retry_allowed"]) == (3, 0, False)
    assert (after["attempts_used"], after["attempts_left"], after["retry_allowed"]) == (3, 1, True)
    assert after["result"] == {"passed": False, "reason": "not_live", "vendor": "tencent", "vendor_code": "-4006",
                               "scores": {}}


def test_no_vendor_answer_is_null_not_an_empty_code(client, alice):
    session = new_session(client=alice, method="h5", external_ref="r", status=S.ERROR, passed=False,
                          reason="vendor_timeout", retryable=True, attempts_used=1)

    result = get(client, alice, f"/api/v1/sessions/{session.pk}").json()["result"]

    assert (result["vendor"], result["vendor_code"]) == (None, None)


@pytest.mark.parametrize("path", ["/api/v1/sessions/", "/api/v1/nothing", "/api/v1/sessions/x/y/", "/api/", "/api"])
def test_in_debug_too_an_unknown_api_path_is_a_json_404(client, alice, settings, path):
    settings.DEBUG = True

    response = get(client, alice, path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


def test_in_debug_a_crash_under_api_is_a_json_500(alice, settings, monkeypatch):
    from django.test import Client  # unchecked: the document rightly promises no 500

    from verification.web import api

    client = Client()
    settings.DEBUG = True
    session = new_session(client=alice, method="h5", external_ref="r")
    monkeypatch.setattr(api, "session_resource", lambda session: 1 / 0)

    response = get(client, alice, f"/api/v1/sessions/{session.pk}")

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"


def test_a_refused_host_under_api_is_json(alice):
    from django.test import Client  # unchecked: no operation answers, Django refuses the host first

    response = Client().get("/api/v1/sessions", HTTP_HOST="evil.example", HTTP_AUTHORIZATION=f"Bearer {alice.key}")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


def test_every_answer_says_how_much_of_the_rate_is_left(client, alice, settings):
    settings.KYC_RATE_API = "3/60"

    answers = [get(client, alice, "/api/v1/sessions") for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert {a["RateLimit-Limit"] for a in answers} == {"3"}
    assert all(1 <= int(a["RateLimit-Reset"]) <= 60 for a in answers)
    assert int(answers[3]["Retry-After"]) == int(answers[3]["RateLimit-Reset"])
    assert "Retry-After" not in answers[0]
    assert answers[3].json()["error"]["code"] == "rate_limited"


def test_creating_sessions_counts_under_its_own_rate(client, alice, settings):
    settings.KYC_RATE_API_SESSIONS = "5/60"
    settings.KYC_RATE_API = "100/60"

    created = client.post("/api/v1/sessions", {"method": "h5", "external_ref": "r"}, content_type="application/json",
                          HTTP_AUTHORIZATION=f"Bearer {alice.key}")
    listed = get(client, alice, "/api/v1/sessions")

    assert (created.status_code, created["RateLimit-Limit"], created["RateLimit-Remaining"]) == (201, "5", "4")
    assert (listed["RateLimit-Limit"], listed["RateLimit-Remaining"]) == ("100", "99")
