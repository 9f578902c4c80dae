"""Structured logs: one JSON object a line, each with the request (or task)
it belongs to, and the id handed back in X-Request-ID; and what every
handler takes out of every line (tests/flows/test_log_redaction.py runs the flows
through real servers and searches what they wrote)."""

import io
import json
import logging
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from verification.platform.logs import (
    JsonFormatter,
    RequestIdFilter,
    request_id,
    task_request_id,
)

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_log():
    """What the `verification` loggers write, as the production handler writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("verification")
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


def test_each_answer_names_its_request_id(client):
    response = client.get("/")

    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
    assert client.get("/")["X-Request-ID"] != response["X-Request-ID"]


def test_a_proxys_request_id_is_kept_and_a_strange_one_replaced(client):
    assert client.get("/", HTTP_X_REQUEST_ID="lb-2f6a1c9e-77")["X-Request-ID"] == "lb-2f6a1c9e-77"
    assert client.get("/", HTTP_X_REQUEST_ID="x\" injected=1")["X-Request-ID"] != "x\" injected=1"


def test_log_lines_are_json_with_the_request_id_of_their_request(client, alice, json_log):
    response = client.post(
        "/api/v1/sessions", {"method": "h5", "external_ref": "r"}, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {alice.key}",
    )

    (line,) = [entry for entry in json_log() if entry["message"].startswith("session created")]
    assert line["request_id"] == response["X-Request-ID"]
    assert (line["level"], line["logger"]) == ("INFO", "verification.services.sessions")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])


def test_outside_a_request_the_id_is_a_dash(json_log):
    logging.getLogger("verification.test").warning("nothing to do with a request")

    assert json_log()[-1]["request_id"] == "-"


def test_a_task_logs_under_its_own_id(json_log):
    token = request_id.set("-")
    try:
        task_request_id(sender=None, task_result=SimpleNamespace(id="0b7d"))
        logging.getLogger("verification.tasks").info("sending")
    finally:
        request_id.reset(token)

    assert json_log()[-1]["request_id"] == "task-0b7d"


def test_an_exception_is_kept_in_the_same_line(json_log):
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("verification.test").exception("it failed")

    entry = json_log()[-1]
    assert entry["message"] == "it failed" and "ValueError: boom" in entry["exception"]
