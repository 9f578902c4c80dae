"""The Jumdata client over real HTTP against the sandbox's emulator: each
outcome a tester can choose, a dead token, a wrong secret."""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from sandbox.models import JumdataTask
from verification.models import VendorCall
from verification.services.vendor_calls import recorder_for
from verification.vendors import jumdata
from verification.vendors.base import VendorRejected

pytestmark = pytest.mark.django_db(transaction=True)

RETURN_URL = "https://portal.example/v/abc/h5/return"


def client_for(base_url, **kwargs):
    return jumdata.JumdataClient(
        base_url=base_url,
        app_id=kwargs.get("app_id", "sandbox-jumdata-app"),
        app_secret=kwargs.get("app_secret", "sandbox-jumdata-secret"),
        timeout=kwargs.get("timeout", (2, 5)),
        recorder=recorder_for(None),
    )


def finish_on_sandbox(sandbox, token, outcome):
    """What the tester's click on the sandbox H5 page does."""
    response = requests.post(
        f"{sandbox.url}/sandbox/jumdata/h5/finish", data={"token": token, "outcome": outcome}, allow_redirects=False
    )
    assert response.status_code == 302


def test_it_starts_a_check_and_points_the_browser_at_the_vendor_page(sandbox):
    client = client_for(f"{sandbox.url}/sandbox/jumdata")

    started = client.init(return_url=RETURN_URL, actions=["LookFront", "BlinkEye"], colors=["#FFFFFF", "#000000"])

    assert started.token and started.task_no
    assert started.billed is True
    page = requests.get(client.html_url(started.token))
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    call = VendorCall.objects.get(endpoint="init")
    assert (call.vendor, call.vendor_code, call.billed, call.http_status) == ("jumdata", "200", True, 200)
    assert call.request_summary["sign"] == "***"


@pytest.mark.parametrize(
    "outcome, code, expected, billed",
    [
        ("pass", 200, jumdata.H5Outcome.PASSED, True),
        ("fail", 202, jumdata.H5Outcome.NOT_PASSED, True),
        ("error", 203, jumdata.H5Outcome.CHECK_FAILED, False),
        ("abandon", 201, jumdata.H5Outcome.PENDING, False),
    ],
)
def test_it_reads_each_outcome_the_tester_chooses(sandbox, outcome, code, expected, billed):
    client = client_for(f"{sandbox.url}/sandbox/jumdata")
    token = client.init(return_url=RETURN_URL).token
    finish_on_sandbox(sandbox, token, outcome)

    result = client.fetch_result(token)

    assert (result.code, result.outcome, result.billed) == (code, expected, billed)
    assert result.is_final == (expected is not jumdata.H5Outcome.PENDING)
    if expected is jumdata.H5Outcome.PASSED:
        assert requests.get(result.face_image_url).content.startswith(b"\xff\xd8\xff")
    else:
        assert result.face_image_url == ""


def test_it_reads_a_dead_token_as_expired(sandbox, settings):
    settings.SANDBOX_JUMDATA_TOKEN_TTL = 60
    client = client_for(f"{sandbox.url}/sandbox/jumdata")
    token = client.init(return_url=RETURN_URL).token
    # The token was issued a minute ago, as far as the emulator knows.
    JumdataTask.objects.filter(token=token).update(created_at=timezone.now() - timedelta(seconds=61))

    assert client.fetch_result(token).outcome is jumdata.H5Outcome.TOKEN_EXPIRED


def test_a_wrong_secret_is_refused_as_a_permanent_error(sandbox):
    client = client_for(f"{sandbox.url}/sandbox/jumdata", app_secret="not-the-secret")

    with pytest.raises(VendorRejected) as refused:
        client.init(return_url=RETURN_URL)

    assert refused.value.code == 400 and refused.value.permanent
    assert VendorCall.objects.get().vendor_code == "400"


