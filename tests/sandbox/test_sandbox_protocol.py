"""What every form-reading emulator does alike (sandbox/protocol.py), sent to
each of them as a careless or hostile client would: a body that is not form
encoding, a parameter twice, a flood of fields, a body far too large. Each
answers with its own vendor's code for it, bills nothing, and keeps nothing."""

import pytest

from sandbox.credentials import JUHE_VIDEO_AUTH_KEY, JUHE_VIDEO_KEY, JUMDATA_APP_ID
from sandbox.models import JumdataTask
from tests.sandbox.test_sandbox_jumdata import common

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"

# path, the key parameter it needs first, how to read the vendor's code, the
# code for a malformed request, the code for a body too large.
JUMDATA = ("/sandbox/jumdata/lifecheck/h5/v2/init", lambda: "appId=" + JUMDATA_APP_ID, "code", 400, 400)
VERIFY = ("/sandbox/juhe/face_vedio/verify", lambda: "key=" + JUHE_VIDEO_KEY, "error_code", 280208, 280236)
QUERY = ("/sandbox/juhe/videoAuth/query", lambda: "key=" + JUHE_VIDEO_AUTH_KEY, "error_code", 2546101, 2546102)
EMULATORS = pytest.mark.parametrize("emulator", [JUMDATA, VERIFY, QUERY], ids=["jumdata", "juhe-verify", "juhe-query"])


def refused(response, emulator, code, *words):
    _path, _key, field, _malformed, _too_large = emulator
    assert response.status_code == 200
    body = response.json()
    assert body[field] == code, body
    assert body.get("charge", False) is False and body.get("result") is None
    text = body.get("msg") or body.get("reason")
    for word in words:
        assert word in text, (word, text)


@EMULATORS
@pytest.mark.parametrize(
    "tail, words",
    [
        ("&name=%FF%FE", ["not valid", "UTF-8"]),  # bytes that are no UTF-8
        ("&returnUrl", ["not valid"]),  # a field without "="
        ("".join(f"&f{n}=x" for n in range(60)), ["not valid"]),  # more fields than any API takes
        ("&returnUrl=a&returnUrl=b", ["returnUrl is given 2 times"]),
    ],
    ids=["not-utf-8", "no-equals", "field-flood", "repeated"],
)
def test_a_body_that_is_not_a_strict_form_is_refused_with_the_vendors_code(client, emulator, tail, words):
    path, key, _field, malformed, _too_large = emulator

    response = client.post(path, key() + tail, content_type=FORM)

    refused(response, emulator, malformed, *words)
    assert not JumdataTask.objects.exists()


@EMULATORS
def test_a_body_declared_far_too_large_is_refused_unread(client, emulator):
    path, key, _field, _malformed, too_large = emulator

    response = client.post(path, key(), content_type=FORM, CONTENT_LENGTH=str(64 * 1024 * 1024))

    refused(response, emulator, too_large, "bytes, far over the limit")


def test_jumdata_refuses_a_form_larger_than_its_parameters_could_be(client):
    body = "&".join(f"{name}={value}" for name, value in common().items()) + "&returnUrl=https://a.example/" + "x" * 70_000

    refused(client.post(JUMDATA[0], body, content_type=FORM), JUMDATA, 400, "far over the limit")
    assert not JumdataTask.objects.exists()
