"""Embedding: who may frame which page, what the page tells the app that
frames it, redirect mode, and a flow that needs no cookie.

alice's sessions may be framed by https://shop.example (conftest); charlie
lists no origin, so his sessions may be framed by nobody."""

import json
import re

import pytest
import requests
from django.test import Client

from tests.support.policy import csp
from tests.support.factories import new_session
from verification.models import ApiClient, VerificationSession
from verification.platform import origins

pytestmark = pytest.mark.django_db

S = VerificationSession.Status


def session_of(client, **kwargs):
    return new_session(
        **{"client": client, "method": "h5", "external_ref": "order-42", "max_attempts": 3, **kwargs}
    )


def embed_config(page) -> dict:
    match = re.search(r'<script id="embed-config" type="application/json">(.*?)</script>', page.text, re.S)
    assert match, "the page carries no embed configuration"
    return json.loads(match.group(1))


def events(page) -> list[dict]:
    return embed_config(page)["events"]


# --- origins ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, origin",
    [
        ("https://shop.example", "https://shop.example"),
        ("https://shop.example/", "https://shop.example"),
        ("HTTPS://Shop.Example:443", "https://shop.example"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://127.0.0.1:80", "http://127.0.0.1"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("https://shop.example/app", None),
        ("https://shop.example?x=1", None),
        ("https://user@shop.example", None),
        ("https://*.shop.example", None),
        ("shop.example", None),
        ("ftp://shop.example", None),
        ("https://shop.example:99999", None),
        ("", None),
        (None, None),
    ],
)
def test_an_origin_is_kept_only_in_the_form_browsers_compare(value, origin):
    assert origins.normalise_origin(value) == origin


# --- who may frame what -------------------------------------------------------------------


def test_alices_session_pages_may_be_framed_by_her_origins_only(client, alice):
    alice.allowed_origins = ["https://shop.example", "https://m.shop.example"]
    alice.save()
    session = session_of(alice)

    for path in ("", "status"):
        response = client.get(f"/v/{session.link_token}/{path}")
        assert csp(response)["frame-ancestors"] == ["https://shop.example", "https://m.shop.example"]
        assert "X-Frame-Options" not in response
        assert "camera=(self)" in response["Permissions-Policy"] and "microphone=(self)" in response["Permissions-Policy"]


def test_a_refused_step_keeps_the_same_framing_so_the_app_sees_the_explanation(client, alice):
    session = session_of(alice)

    response = client.post(f"/v/{session.link_token}/h5/start")  # no consent yet

    assert response.status_code == 403
    assert csp(response)["frame-ancestors"] == ["https://shop.example"]
    assert events(response) == [{"type": "error", "code": "no_consent"}]


def test_a_client_without_origins_gets_pages_nobody_may_frame(client, charlie):
    session = session_of(charlie)

    response = client.get(f"/v/{session.link_token}/")

    assert csp(response)["frame-ancestors"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"


def test_a_disabled_client_loses_its_framing(client, alice):
    session = session_of(alice)
    ApiClient.objects.filter(pk=alice.pk).update(is_active=False)

    assert csp(client.get(f"/v/{session.link_token}/"))["frame-ancestors"] == ["'none'"]


@pytest.mark.parametrize("path", ["/", "/admin/login/", "/api/v1/sessions", "/no/such/page", "/v/unknown-token/"])
def test_every_other_page_refuses_framing_and_the_camera(client, path):
    response = client.get(path)

    assert csp(response)["frame-ancestors"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"
    assert "camera=()" in response["Permissions-Policy"] and "microphone=()" in response["Permissions-Policy"]


# --- what the page tells its parent -------------------------------------------------------


def test_the_entry_page_announces_ready_with_its_step_to_alices_origins(client, alice):
    session = session_of(alice)

    config = embed_config(client.get(f"/v/{session.link_token}/"))

    assert config["session_id"] == str(session.id)
    assert config["origins"] == ["https://shop.example"]
    assert config["events"] == [{"type": "ready", "step": "consent"}]


def test_consent_is_announced_once_the_portal_has_recorded_it(client, alice):
    session = session_of(alice)

    response = client.post(f"/v/{session.link_token}/consent", follow=True)

    assert events(response) == [{"type": "ready", "step": "start"}, {"type": "consent_given"}]
    session.refresh_from_db()
    assert session.has_consent


def test_an_outcome_is_announced_with_its_status_and_whether_it_is_final(client, alice):
    failed = session_of(alice, status=S.FAILED, reason="not_passed", attempts_used=1, retryable=True, consent_at="2026-11-01T00:00Z")
    passed = session_of(alice, status=S.PASSED, passed=True, reason="passed", attempts_used=1, consent_at="2026-11-01T00:00Z")

    assert events(client.get(f"/v/{failed.link_token}/"))[-1] == {
        "type": "completed", "status": "failed", "final": False, "retry_allowed": True,
    }
    assert events(client.get(f"/v/{passed.link_token}/"))[-1] == {
        "type": "completed", "status": "passed", "final": True, "retry_allowed": False,
    }


def test_the_page_carries_no_score_name_or_id_number(client, alice):
    session = session_of(
        alice, status=S.PASSED, passed=True, reason="passed", scores={"sim": 93.2147}, realname="张三",
        idcard="11010519491231002X", consent_at="2026-11-01T00:00Z",
    )

    page = client.get(f"/v/{session.link_token}/").text

    assert "93.2147" not in page and "张三" not in page and "11010519491231002X" not in page


# --- redirect mode ------------------------------------------------------------------------


def test_redirect_mode_returns_with_the_session_id_and_nothing_about_the_outcome(client, alice):
    session = session_of(
        alice, return_url="https://shop.example/kyc/done?order=42", status=S.PASSED, passed=True,
        reason="passed", consent_at="2026-11-01T00:00Z",
    )

    page = client.get(f"/v/{session.link_token}/")

    expected = f"https://shop.example/kyc/done?order=42&amp;session_id={session.id}"
    assert f'id="return-link" href="{expected}"' in page.text
    assert embed_config(page)["redirect_url"] == f"https://shop.example/kyc/done?order=42&session_id={session.id}"
    assert embed_config(page)["final"] is True


def test_a_return_url_whose_origin_was_removed_from_the_client_is_not_followed(client, alice):
    session = session_of(alice, return_url="https://shop.example/done", status=S.PASSED, passed=True, reason="passed")
    ApiClient.objects.filter(pk=alice.pk).update(allowed_origins=["https://new-shop.example"])

    page = client.get(f"/v/{session.link_token}/")

    assert 'id="return-link"' not in page.text and embed_config(page)["redirect_url"] is None


# --- no cookie anywhere in the flow -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_whole_h5_flow_sets_and_needs_no_cookie(sandbox, alice):
    """Safari blocks cookies in cross-site frames: each request here comes
    from a fresh client holding no cookie, and no answer sets one."""
    session = session_of(alice)

    fresh = Client
    answers = [fresh().get(f"/v/{session.link_token}/")]
    answers.append(fresh().post(f"/v/{session.link_token}/consent"))
    answers.append(fresh().get(answers[-1]["Location"]))
    answers.append(fresh().post(f"/v/{session.link_token}/handoff"))
    answers.append(fresh().post(f"/v/{session.link_token}/h5/start"))
    vendor_page = answers[-1]["Location"]
    token = vendor_page.split("token=")[1]
    requests.post(f"{sandbox.url}/sandbox/jumdata/h5/finish", data={"token": token, "outcome": "pass"}, allow_redirects=False)
    answers.append(fresh().get(f"/v/{session.link_token}/h5/return"))
    answers.append(fresh().get(answers[-1]["Location"]))
    answers.append(fresh().get(f"/v/{session.link_token}/status"))

    assert [a.status_code for a in answers] == [200, 302, 200, 201, 302, 302, 200, 200]
    assert all(not a.cookies for a in answers), [a.cookies for a in answers]
    session.refresh_from_db()
    assert session.status == S.PASSED
