"""The redaction filter every log handler carries: what it takes out, of
whatever shape a record is, at what cost (no database)."""

import io
import json
import logging
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.flows.test_checks import ENCRYPTION_KEYS, VENDOR_PREFIXES
from verification.platform.logs import (
    JsonFormatter,
    RedactFilter,
    RequestIdFilter,
    redact,
)

ROOT = Path(__file__).resolve().parents[2]


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


# --- redaction: what a log's reader must not find ------------------------------------------

TOKEN = "kQ3v9Zp_Lr8sXw2TnB6yHc4JmD7fGa1eUo5iRt0bWxY"  # shaped like a link token


@pytest.mark.parametrize(
    "line, expected",
    [
        # django.server / gunicorn request lines, with the referrer of the page before
        (f'"GET /v/{TOKEN}/status HTTP/1.1" 200 57', '"GET /v/<redacted>/status HTTP/1.1" 200 57'),
        (f'"POST /v/{TOKEN}/h5/start HTTP/1.1" 302 0 "https://kyc.example/v/{TOKEN}/?after=consent"',
         '"POST /v/<redacted>/h5/start HTTP/1.1" 302 0 "https://kyc.example/v/<redacted>/?<redacted>"'),
        ('"GET /h/k7mnp2qr9xzt HTTP/1.1" 302 0', '"GET /h/<redacted> HTTP/1.1" 302 0'),
        # django.request
        (f"Not Found: /v/{TOKEN}/", "Not Found: /v/<redacted>/"),
        # an admin search by ID number, by name (as the browser encodes it)
        ('"GET /admin/verification/verificationsession/?q=11010519491231002X HTTP/1.1" 200',
         '"GET /admin/verification/verificationsession/?<redacted> HTTP/1.1" 200'),
        ("GET /admin/verification/verificationsession/?q=%E5%BC%A0%E4%B8%89&o=1",
         "GET /admin/verification/verificationsession/?<redacted>"),
        # the emulated vendor page's token
        ("GET /sandbox/jumdata/lifecheck/h5/v2/html?token=9f0c2a", "GET /sandbox/jumdata/lifecheck/h5/v2/html?<redacted>"),
        # ID numbers in any text, with a lower-case x too
        ("idcard=11010519491231002X, 44030819990101001x.", "idcard=<redacted>, <redacted>."),
        ("11010519491231002X", "<redacted>"),
        # vendor face images: a whole URL, or the file name in a path
        ("fetching https://apis.juhe.cn/videoAuth/face-store-njb?y=2020&m=3&d=20&p=8692dd.jpg&token=5e74 now",
         "fetching <redacted> now"),
        ("Max retries exceeded with url: /sandbox/jumdata/face/Qx9-ab_cd.JPG (Caused by x)",
         "Max retries exceeded with url: /sandbox/jumdata/face/<redacted> (Caused by x)"),
        ("https://oss.example.com/faces/2f/abc.png", "<redacted>"),
        # what stays: ids, codes, numbers that are not ID numbers, plain questions
        ("session=3f2a9c1e-1111-2222-3333-444455556666 video received capture=recorder",
         "session=3f2a9c1e-1111-2222-3333-444455556666 video received capture=recorder"),
        ("jumdata init: code=200 taskNo=462675739757558428126083", "jumdata init: code=200 taskNo=462675739757558428126083"),
        ("1234567890123456789 and a11010519491231002X", "1234567890123456789 and a11010519491231002X"),
        ('"GET /api/v1/sessions/3f2a9c1e HTTP/1.1" 200', '"GET /api/v1/sessions/3f2a9c1e HTTP/1.1" 200'),
        ("Retry? yes", "Retry? yes"),
    ],
)
def test_redact_takes_out_what_lets_a_reader_act_as_the_person(line, expected):
    assert redact(line) == expected
    assert redact(expected) == expected  # a second handler changes nothing more


def record_of(message, args=None, *, exc_info=None):
    return logging.LogRecord("django.request", logging.WARNING, __file__, 1, message, args, exc_info)


def test_the_filter_redacts_the_arguments_of_a_record_whatever_their_shape():
    class Path:
        def __str__(self):
            return f"/v/{TOKEN}/"

    redact_filter = RedactFilter()
    records = [
        record_of("Not Found: %s", (f"/v/{TOKEN}/",)),
        record_of('%(h)s "%(r)s" %(s)s', {"h": "127.0.0.1", "r": f"GET /v/{TOKEN}/ HTTP/1.1", "s": "200"}),
        record_of("Not Found: %s", (Path(),)),
        record_of("Searching %s", ("11010519491231002X",)),
    ]

    for record in records:
        assert redact_filter.filter(record) is True
        line = logging.Formatter("%(message)s").format(record)
        assert TOKEN not in line and "11010519491231002X" not in line and "<redacted>" in line
        assert record.args is None


def test_a_traceback_is_redacted_in_plain_and_json_lines():
    try:
        raise ValueError(f"could not open https://kyc.example/v/{TOKEN}/ for 11010519491231002X")
    except ValueError:
        record = record_of("Internal Server Error: %s", (f"/v/{TOKEN}/",), exc_info=sys.exc_info())
    record.stack_info = f'  File "x.py", line 1, in view\n    token = "/h/{TOKEN[:12]}"'

    RedactFilter().filter(record)
    plain = logging.Formatter("%(message)s").format(record)
    as_json = JsonFormatter().format(record)

    for line in (plain, as_json):
        assert "ValueError: could not open https://kyc.example/v/<redacted>/ for <redacted>" in line.replace("\\n", "\n")
        assert TOKEN not in line and TOKEN[:12] not in line and "11010519491231002X" not in line


def test_a_call_whose_arguments_do_not_fit_prints_them_redacted():
    record = record_of("one %s two %s", (f"/v/{TOKEN}/",))

    RedactFilter().filter(record)

    assert TOKEN not in record.getMessage() and "/v/<redacted>/" in record.getMessage()


def test_redacting_costs_microseconds_per_record():
    """CPU time, so that other work on the machine does not count; the
    bound is generous (the README gives the figures): it catches a pattern
    that backtracks, not a slow day."""
    redact_filter = RedactFilter()
    access = {"h": "127.0.0.1", "t": "[02/Dec/2026:12:00:00 +0800]", "s": "200", "b": "5123",
              "r": "GET /admin/verification/verificationsession/?q=11010519491231002X HTTP/1.1",
              "f": f"https://kyc.example/v/{TOKEN}/", "a": "Mozilla/5.0 (Linux; Android 14) Chrome/120 Mobile Safari/537.36"}
    shapes = [
        ("session=%s %s received capture=%s", ("3f2a9c1e-1111-2222-3333-444455556666", "video", "recorder")),
        ('"%s" %s %s', (f"GET /v/{TOKEN}/status HTTP/1.1", "200", "57")),
        ('%(h)s - - %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"', access),
    ]
    count = 2000
    for message, args in shapes:
        records = [record_of(message, args) for _ in range(count)]
        started = time.process_time()
        for record in records:
            redact_filter.filter(record)
        per_record = (time.process_time() - started) / count
        assert per_record < 100e-6, f"{message!r}: {per_record * 1e9:.0f} ns per record"


def test_every_handler_of_the_configured_logging_redacts(tmp_path):
    """With DEBUG on and off, after Django has configured logging (its own
    defaults included), no logger has a handler without the filter."""
    check = (
        "import logging, django; django.setup()\n"
        "from verification.platform.logs import RedactFilter\n"
        "loggers = [logging.root] + [l for l in logging.root.manager.loggerDict.values() if isinstance(l, logging.Logger)]\n"
        # A library's NullHandler writes nothing.
        "writers = [(l.name, h) for l in loggers for h in l.handlers if not isinstance(h, logging.NullHandler)]\n"
        "handlers = {h for _, h in writers}\n"
        "bare = [(name, h) for name, h in writers if not any(isinstance(f, RedactFilter) for f in h.filters)]\n"
        "print(len(handlers), bare)\n"
    )
    for debug in ("0", "1"):
        env = {k: v for k, v in os.environ.items() if not k.startswith(VENDOR_PREFIXES + ("DEBUG",))}
        env.update({"DJANGO_SETTINGS_MODULE": "kyc_portal.settings", "DEBUG": debug, "SECRET_KEY": "x" * 50,
                    "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", **ENCRYPTION_KEYS})
        done = subprocess.run([sys.executable, "-c", check], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        handlers, bare = done.stdout.split(" ", 1)
        assert int(handlers) >= 1 and bare.strip() == "[]", done.stdout


def test_gunicorns_access_and_error_logs_redact_after_every_setup(capsys):
    from gunicorn.config import Config

    from kyc_portal.gunicorn_logging import RedactingLogger

    config = Config()
    config.set("accesslog", "-")
    config.set("errorlog", "-")
    gunicorn_log = RedactingLogger(config)
    gunicorn_log.setup(config)  # a reload (SIGHUP) sets the handlers up again
    request = SimpleNamespace(headers=[("REFERER", f"https://kyc.example/v/{TOKEN}/")])
    response = SimpleNamespace(status="302 Found", sent=0, headers=[])
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"/v/{TOKEN}/h5/return", "SERVER_PROTOCOL": "HTTP/1.1",
               "HTTP_REFERER": f"https://kyc.example/v/{TOKEN}/", "QUERY_STRING": "", "PATH_INFO": f"/v/{TOKEN}/h5/return"}

    gunicorn_log.access(response, request, environ, timedelta(milliseconds=12))
    gunicorn_log.error("Error handling request %s", f"/h/{TOKEN[:12]}")

    written = capsys.readouterr()
    assert '"GET /v/<redacted>/h5/return HTTP/1.1" 302' in written.out and "/h/<redacted>" in written.err
    assert TOKEN not in written.out + written.err and TOKEN[:12] not in written.out + written.err
    for log in (gunicorn_log.access_log, gunicorn_log.error_log):
        assert log.handlers and all(sum(isinstance(f, RedactFilter) for f in h.filters) == 1 for h in log.handlers)
