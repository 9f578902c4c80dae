"""The retry policy, redaction and transport shared by every vendor client."""


import pytest

from tests.support.http_double import HttpDouble
from verification.vendors import transport
from verification.vendors.base import (
    VendorConnectionError,
    VendorRejected,
    VendorResponseError,
    backoff_seconds,
    erase_personal,
    redact,
    should_retry,
)
from verification.vendors.transport import vendor_call


def error(kind, **kwargs):
    return kind("x", vendor="v", endpoint="e", **kwargs)


@pytest.mark.parametrize(
    "failure, billed_call, expected",
    [
        (error(VendorConnectionError, reached=False, billed=False), True, True),
        (error(VendorConnectionError, reached=True, billed=None), True, False),
        (error(VendorConnectionError, reached=True, billed=None), False, True),
        (error(VendorResponseError, http_status=503), False, True),
        (error(VendorResponseError, http_status=200), False, True),
        (error(VendorResponseError, http_status=503), True, False),
        (error(VendorRejected, code=609), False, True),
        (error(VendorRejected, code=999), False, False),
        (error(VendorRejected, code=609, permanent=True), False, False),
    ],
)
def test_should_retry(failure, billed_call, expected):
    assert should_retry(failure, retryable_codes={609, 610}, billed_call=billed_call) is expected


@pytest.mark.parametrize("attempt, seconds", [(0, 1), (1, 2), (2, 4), (4, 16), (5, 30), (10, 30)])
def test_backoff_doubles_up_to_a_cap(attempt, seconds):
    assert backoff_seconds(attempt) == seconds


def test_redaction_keeps_no_secret_blob_name_or_id_number():
    body = {
        "appId": "app",
        "sign": "deadbeef",
        "key": "juhe-key",
        "idcard": "11010519491231002X",
        "realname": "张三",
        "videoBase64": "A" * 5000,
        "data": {"idcard_name": "李四", "list": ["B" * 300, "short"]},
        "raw": b"\x00\x01",
        "code": 0,
        "data2": {"token": "0123456789abcdef"},
    }

    assert redact(body) == {
        "appId": "app",
        "sign": "***",
        "key": "***",
        "idcard": "**************002X",
        "realname": "张**",
        "videoBase64": "<5000 characters>",
        "data": {"idcard_name": "李**", "list": ["<300 characters>", "short"]},
        "raw": "<2 bytes>",
        "code": 0,
        "data2": {"token": "012345…"},
    }


def test_redaction_cuts_every_url_to_its_scheme_and_host():
    face = "https://oss.example.com/faces/abc.jpg?Signature=s3cr3t&Expires=1"
    body = {
        "data": {"faceImageUrl": face},  # Jumdata `result`
        "result": {"pictures": [face, "http://10.0.0.5:8080/p/1.jpg"]},  # Juhe videoAuth
        "url": "https://user:pw@cdn.example.net/x.jpg",  # Tencent idcardcompare, with user-info
        "returnUrl": "https://portal.example/v/link-token-abc/h5/return",
        "msg": f"download failed: {face} (timeout)",
    }

    assert redact(body) == {
        "data": {"faceImageUrl": "https://oss.example.com/…"},
        "result": {"pictures": ["https://oss.example.com/…", "http://10.0.0.5:8080/…"]},
        "url": "https://cdn.example.net/…",
        "returnUrl": "https://portal.example/…",
        "msg": "download failed: https://oss.example.com/… (timeout)",
    }
    assert redact(redact(body)) == redact(body), "stored summaries can be redacted again unchanged"


def test_erasure_empties_masked_names_and_id_numbers_and_keeps_the_rest():
    kept = redact({"realname": "张三", "idcard": "11010519491231002X", "idcard_name": "张三", "code": 0,
                   "data": {"sim": 91, "pictures": ["https://oss.example.com/a.jpg"]}, "token": "0123456789"})

    assert erase_personal(kept) == {"realname": "<erased>", "idcard": "<erased>", "idcard_name": "<erased>",
                                    "code": 0, "data": {"sim": 91, "pictures": ["https://oss.example.com/…"]},
                                    "token": "012345…"}
    assert erase_personal({"pictures": ["https://oss.example.com/a.jpg?sig=1"]}) == {
        "pictures": ["https://oss.example.com/…"]}, "rows written before URLs were cut"


# --- the environment's proxy settings, read once per vendor host ------------------


@pytest.fixture
def egress_proxy(monkeypatch):
    """An HTTP proxy named by the environment, as a data centre's egress would be."""
    transport._proxies_for.cache_clear()
    with HttpDouble() as proxy:
        proxy.respond = lambda request: (200, {"Content-Type": "application/json"}, b"{}")
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        yield proxy
    transport._proxies_for.cache_clear()


def call_vendor(url):
    with vendor_call(vendor="jumdata", endpoint="init", recorder=None, request_summary={}) as call:
        return call.send("POST", url, timeout=5).status_code


def test_vendor_calls_go_through_the_proxy_the_environment_names(egress_proxy):
    assert call_vendor("http://api.vendor.example/lifecheck/h5/v2/init") == 200

    assert [r.path for r in egress_proxy.requests] == ["http://api.vendor.example/lifecheck/h5/v2/init"]


def test_hosts_in_no_proxy_are_called_directly(egress_proxy, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with HttpDouble() as vendor:
        assert call_vendor(f"{vendor.url}/lifecheck/h5/v2/init") == 200

    assert not egress_proxy.requests and [r.path for r in vendor.requests] == ["/lifecheck/h5/v2/init"]


# --- answers no vendor would give ---------------------------------------------------------


@pytest.mark.parametrize("depth", [700, 100_000])
def test_an_answer_nested_beyond_reason_is_garbage_not_a_crash(depth):
    """Deep enough to get past the parser but not the redaction (700), or not past the parser."""
    records = []
    body = ('{"data": ' * depth + "0" + "}" * depth).encode()
    with HttpDouble() as vendor:
        vendor.respond = lambda request: (200, {"Content-Type": "application/json"}, body)
        with pytest.raises(VendorResponseError, match="non-JSON body"):
            with vendor_call(vendor="jumdata", endpoint="result", recorder=records.append, request_summary={}) as call:
                call.parse_json(call.send("POST", f"{vendor.url}/lifecheck/h5/v2/result", timeout=5))

    (record,) = records
    assert record.error.startswith("VendorResponseError") and record.response_summary == {}
