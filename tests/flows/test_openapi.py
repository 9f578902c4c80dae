"""The OpenAPI document: valid OpenAPI 3.1, served, readable as a page,
and true. Every answer the API tests receive is checked against it (the
`client` fixture, tests/support/openapi.py); here Schemathesis calls a live
portal with what the document describes, every operation, and checks that
nothing errs and every status, content type, header and body is documented."""

import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from openapi_spec_validator import validate
from schemathesis.checks import (
    content_type_conformance, not_a_server_error, response_headers_conformance, response_schema_conformance,
    status_code_conformance,
)

from tests.support.factories import new_session
from tests.support.openapi import SchemaMismatch, check_response
from verification.models import VerificationSession
from verification.services.webhooks import webhook_enqueue
from verification.web.openapi import document

pytestmark = pytest.mark.django_db


def test_the_document_is_valid_openapi_3_1():
    spec = document()

    validate(spec)

    assert spec["openapi"].startswith("3.1")
    assert set(spec["webhooks"]) == {"session.completed", "session.reviewed"}


def test_the_document_is_served_as_json_to_anyone(client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.json()["paths"].keys() == document()["paths"].keys()


def test_the_reference_page_is_readable_and_loads_nothing_from_elsewhere(client):
    response = client.get("/docs/api")

    page = response.content.decode()
    assert response.status_code == 200
    for operation in ("POST /api/v1/sessions", "GET /api/v1/sessions", "POST /api/v1/sessions/{session_id}/cancel",
                      "GET /api/v1/events", "session.completed", "Idempotency-Key", "RateLimit-Remaining"):
        assert operation in page
    assert "<code>next_cursor</code>" in page and "`" not in page  # descriptions' `code` shown as code
    assert "<script" not in page and 'src="http' not in page and "style=" not in page
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]


def test_the_checker_refuses_an_answer_the_document_does_not_describe(client, alice):
    class Answer(dict):
        status_code = 200

        def json(self):
            return {"data": [{"id": "x"}], "has_more": False, "next_cursor": None}

    answer = Answer({"Content-Type": "application/json", "RateLimit-Limit": "1", "RateLimit-Remaining": "0",
                     "RateLimit-Reset": "1"})
    with pytest.raises(SchemaMismatch, match="does not match"):
        check_response("GET", "/api/v1/sessions", answer)
    answer.status_code = 418
    with pytest.raises(SchemaMismatch, match="not documented"):
        check_response("GET", "/api/v1/sessions", answer)


# --- Schemathesis against a live portal --------------------------------------------------------


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
OPERATIONS = [(verb.upper(), path) for path, item in document()["paths"].items() for verb in item if verb != "parameters"]


@pytest.mark.parametrize("verb, path", OPERATIONS, ids=[f"{verb} {path}" for verb, path in OPERATIONS])
@pytest.mark.django_db(transaction=True)
def test_every_operation_answers_as_documented(live_server, settings, alice, verb, path):
    """Schemathesis' pytest plugin (from_fixture) does not run on pytest 9
    yet: each operation's cases are drawn here with Hypothesis itself. Every
    other case of an operation on one session names one of alice's real
    sessions (of every status), so the 200s and 409s are checked too, not
    only the 404 of a made-up id; her webhook events make the events list
    hold real items."""
    settings.SITE_URL = live_server.url
    alice.set_webhook_url("https://shop.example/kyc-hook")
    sessions = [new_session(client=alice, method="h5", external_ref=f"r-{status}", status=status)
                for status in VerificationSession.Status.values]
    # An `auto` session that has not chosen its method yet (method null).
    sessions.append(new_session(client=alice, method="", method_requested="auto", method_order=["h5"],
                                external_ref="r-auto"))
    for session in sessions:
        webhook_enqueue(session=session, event_type="session.completed")
    operation = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/openapi.json")[path][verb]
    headers = {"Authorization": f"Bearer {alice.key}"}
    real_ids = itertools.cycle([str(session.pk) for session in sessions])
    drawn = itertools.count()

    @given(case=operation.as_strategy())
    @hypothesis_settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(HealthCheck))
    def answers_as_documented(case):
        if "session_id" in (case.path_parameters or {}) and next(drawn) % 2:
            case.path_parameters = {**case.path_parameters, "session_id": next(real_ids)}
        case.call_and_validate(base_url=live_server.url, headers=headers, checks=CHECKS)

    answers_as_documented()


# Enough to reach every documented answer of each operation, few enough for CI.
MAX_EXAMPLES = 30
