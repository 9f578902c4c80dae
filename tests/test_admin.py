"""The first cut of the back office: staff find sessions; nothing is editable."""

import pytest
from django.contrib.auth.models import User

from verification.models import VendorCall, VerificationSession

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = User.objects.create_superuser("reviewer", "r@example.com", "pw-reviewer-123")
    client.force_login(user)
    return client


@pytest.fixture
def sessions():
    found = VerificationSession.objects.create(
        method="h5", external_ref="order-42", vendor_task_no="043439882226367117195632", status="passed",
        realname="张三", idcard="11010519491231002X",
    )
    VendorCall.objects.create(session=found, vendor="jumdata", endpoint="init", vendor_code="200", billed=True)
    other = VerificationSession.objects.create(method="h5", external_ref="order-43", status="failed")
    return found, other


def test_staff_find_a_session_by_external_reference(staff, sessions):
    page = staff.get("/admin/verification/verificationsession/?q=order-42")
    assert page.status_code == 200
    assert "order-42" in page.text and "order-43" not in page.text


def test_staff_find_a_session_by_vendor_order_number(staff, sessions):
    page = staff.get("/admin/verification/verificationsession/?q=043439882226367117195632")
    assert "order-42" in page.text and "order-43" not in page.text


def test_staff_filter_by_status(staff, sessions):
    page = staff.get("/admin/verification/verificationsession/?status__exact=failed")
    assert "order-43" in page.text and "order-42" not in page.text


def test_the_session_page_shows_its_vendor_calls_and_masks_identity(staff, sessions):
    found, _other = sessions
    page = staff.get(f"/admin/verification/verificationsession/{found.pk}/change/")
    assert page.status_code == 200
    assert "init" in page.text and "110105********002X" in page.text and "张*" in page.text
    assert "11010519491231002X" not in page.text and "张三" not in page.text


def test_nothing_can_be_added_changed_or_deleted(staff, sessions):
    found, _other = sessions
    assert staff.get("/admin/verification/verificationsession/add/").status_code == 403
    assert staff.post(f"/admin/verification/verificationsession/{found.pk}/delete/").status_code == 403
    staff.post(f"/admin/verification/verificationsession/{found.pk}/change/", {"status": "failed"})
    found.refresh_from_db()
    assert found.status == "passed"


def test_anonymous_visitors_get_the_login_page(client, sessions):
    response = client.get("/admin/verification/verificationsession/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
