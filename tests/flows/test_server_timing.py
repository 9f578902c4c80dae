"""Every answer says the portal's own time and its database time in a
Server-Timing header: what the benchmarks read instead of subtracting
latency percentiles."""

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.support import factories
from verification.platform.timing import parse_server_timing

pytestmark = pytest.mark.django_db


def timing_of(response) -> tuple[dict, str]:
    header = response["Server-Timing"]
    return parse_server_timing(header), header


def test_the_persons_page_says_the_portals_time_and_its_queries(client):
    session = factories.new_session(method="tencent_lip", external_ref="t")

    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/v/{session.link_token}/")

    assert response.status_code == 200
    timing, header = timing_of(response)
    assert set(timing) == {"app", "cpu", "db"}
    assert 0 < timing["db"] <= timing["app"] < 10_000 and 0 < timing["cpu"] <= timing["app"] + 1
    assert f'desc="{len(queries)} quer' in header and len(queries) > 0
    assert "Timing-Allow-Origin" not in response, "an embedding page of another origin cannot read it"
    assert "Content-Security-Policy" in response


def test_a_status_poll_and_a_refused_step_say_it_too(client):
    session = factories.new_session(method="tencent_lip", external_ref="t")

    status = client.get(f"/v/{session.link_token}/status")
    refused = client.post(f"/v/{session.link_token}/video")  # no consent, no file

    assert status.status_code == 200 and 400 <= refused.status_code < 500
    for response in (status, refused):
        timing, _ = timing_of(response)
        assert timing["app"] >= timing["db"] >= 0


def test_api_answers_say_it_even_when_refused(client, alice):
    session = factories.new_session(method="tencent_lip", external_ref="t", client=alice)
    shown = client.get(f"/api/v1/sessions/{session.pk}", HTTP_AUTHORIZATION=f"Bearer {alice.key}")
    refused = client.get(f"/api/v1/sessions/{session.pk}", HTTP_AUTHORIZATION="Bearer wrong")

    assert (shown.status_code, refused.status_code) == (200, 401)
    for response in (shown, refused):
        timing, _ = timing_of(response)
        assert timing["app"] > 0


def test_a_request_without_queries_counts_none(client):
    response = client.get("/healthz")

    timing, header = timing_of(response)
    assert timing["db"] == 0 and header.endswith('desc="0 queries"')


def test_it_can_be_turned_off(client, settings):
    settings.SERVER_TIMING = False
    session = factories.new_session(method="tencent_lip", external_ref="t")

    assert "Server-Timing" not in client.get(f"/v/{session.link_token}/")


def test_gunicorns_access_log_writes_the_request_time_and_the_portals_timing(capsys):
    from gunicorn.config import Config

    from kyc_portal.gunicorn_logging import RedactingLogger

    config = Config()
    namespace = {}
    exec(Path("gunicorn.conf.py").read_text(), namespace)
    config.set("access_log_format", namespace["access_log_format"])
    config.set("accesslog", "-")
    log = RedactingLogger(config)
    response = SimpleNamespace(status="200 OK", sent=10,
                               headers=[("Server-Timing", 'app;dur=3.10, db;dur=1.20;desc="4 queries"')])
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/healthz", "SERVER_PROTOCOL": "HTTP/1.1", "QUERY_STRING": "",
               "PATH_INFO": "/healthz"}

    log.access(response, SimpleNamespace(headers=[]), environ, timedelta(microseconds=3450))

    line = capsys.readouterr().out
    assert line.rstrip().endswith(' 200 10 "-" "-" 3450us "app;dur=3.10, db;dur=1.20;desc=\\"4 queries\\""'), line
