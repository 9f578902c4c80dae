"""The oversight dashboard and the CSV export (verification/admin_views.py).

Personas: sabine supervises (views, exports, may see full identity); ed
exports but may not see full identity; vera only views; charlie is staff
with no permission at all and should have no access."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from tests.support.factories import new_session
from verification.models import AuditEntry, ReviewDecision, VendorCall, VerificationSession

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/verification/dashboard/"
EXPORT = "/admin/verification/export.csv"


def persona(username: str, *codenames: str, is_staff=True) -> User:
    user = User.objects.create_user(username, password="pw-" + username, is_staff=is_staff)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def sabine():
    return persona("sabine", "view_verificationsession", "export_sessions", "view_full_identity")


@pytest.fixture
def ed():
    return persona("ed", "view_verificationsession", "export_sessions")


@pytest.fixture
def vera():
    return persona("vera", "view_verificationsession")


@pytest.fixture
def charlie():
    return persona("charlie")


@pytest.fixture
def sessions(sabine):
    zhang = new_session(
        method="h5", external_ref="order-1", status="passed", passed=True, realname="张三",
        idcard="11010519491231002X", attempts_used=1, completed_at=timezone.now(),
    )
    ouyang = new_session(
        method="tencent_lip", external_ref="=HYPERLINK(1)", status="failed", passed=False,
        reason="face_mismatch",
        vendor_code="66660004", realname="欧阳娜娜", idcard="440308199901010012", attempts_used=2,
    )
    VerificationSession.objects.filter(pk=ouyang.pk).update(created_at=timezone.now() - timedelta(days=10))
    ReviewDecision.objects.create(session=zhang, decision="approve", note="Looks right.", reviewer=sabine)
    # Waiting for a second reviewer: not final, so not exported.
    ReviewDecision.objects.create(session=zhang, decision="reject", note="Unsure.", reviewer=sabine,
                                  needs_second_reviewer=True)
    return zhang, ouyang


def export(client, user, query=""):
    client.force_login(user)
    return client.get(EXPORT + query)


def rows_of(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


# --- dashboard ----------------------------------------------------------------------------


def test_it_shows_seven_charts_to_a_viewer(client, vera, sessions):
    VendorCall.objects.create(vendor="jumdata", endpoint="init", vendor_code="602", billed=True,
                              latency_ms=120)
    client.force_login(vera)
    page = client.get(DASHBOARD)
    assert page.status_code == 200
    assert page.content.decode().count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 7
    assert page.content.decode().count("<details>") == 7
    assert reverse("admin:verification_dashboard") == DASHBOARD


def test_it_escapes_vendor_codes(client, vera):
    VendorCall.objects.create(vendor="tencent", endpoint="detect", vendor_code="<b>bold</b>")
    client.force_login(vera)
    page = client.get(DASHBOARD).content.decode()
    assert "<b>bold" not in page and "&lt;b&gt;bold" in page


def test_it_offers_the_export_only_to_exporters(client, vera, ed):
    client.force_login(vera)
    assert EXPORT not in client.get(DASHBOARD).content.decode()
    client.force_login(ed)
    assert EXPORT in client.get(DASHBOARD + "?days=7").content.decode()


def test_anonymous_visitors_get_the_login_page(client):
    for url in (DASHBOARD, EXPORT):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_without_permission_are_refused(client, charlie):
    client.force_login(charlie)
    assert client.get(DASHBOARD).status_code == 403


def test_non_staff_users_get_the_login_page_even_with_permissions(client):
    client.force_login(persona("nina", "view_verificationsession", "export_sessions", is_staff=False))
    for url in (DASHBOARD, EXPORT):
        assert client.get(url).status_code == 302


# --- CSV export ---------------------------------------------------------------------------


def test_the_two_exports_have_distinct_dated_file_names(client, sabine, sessions):
    day = timezone.localtime().strftime("%Y-%m-%d")
    masked = export(client, sabine)["Content-Disposition"]
    full = export(client, sabine, "?include_identity=1")["Content-Disposition"]
    assert masked.startswith(f'attachment; filename="kyc-sessions-masked-{day}-')
    assert full.startswith(f'attachment; filename="kyc-sessions-full-identity-{day}-')


def test_the_export_is_masked_by_default(client, sabine, sessions):
    response = export(client, sabine)
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    assert "no-store" in response["Cache-Control"]
    ouyang, zhang = rows_of(response)  # oldest first
    assert ouyang["name"] == "欧**" and ouyang["id_number"] == "**************0012"
    assert zhang["name"] == "张**" and zhang["id_number"] == "**************002X"
    assert zhang["status"] == "passed" and zhang["passed"] == "true" and zhang["attempts_used"] == "1"
    assert zhang["decision"] == "approve" and zhang["decision_reviewer"] == "sabine"
    assert zhang["decision_note"] == "Looks right." and zhang["decision_at"]
    assert ouyang["decision"] == "" and ouyang["reason"] == "face_mismatch"
    assert ouyang["vendor_code"] == "66660004"
    # A cell Excel would run as a formula is quoted.
    assert ouyang["external_ref"] == "'=HYPERLINK(1)"


def test_full_identity_needs_both_permissions(client, sabine, ed, sessions):
    assert export(client, ed, "?include_identity=1").status_code == 403
    rows = rows_of(export(client, sabine, "?include_identity=1"))
    assert [(r["name"], r["id_number"]) for r in rows] == [
        ("欧阳娜娜", "440308199901010012"), ("张三", "11010519491231002X"),
    ]
    assert AuditEntry.objects.get().detail == "sessions csv, 2 rows, full identity"


def test_exporting_needs_the_export_permission(client, vera, charlie, sessions):
    assert export(client, vera).status_code == 403
    assert export(client, charlie).status_code == 403
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    ("query", "refs"),
    [
        ("?status=failed", ["'=HYPERLINK(1)"]),
        ("?method=h5", ["order-1"]),
        ("?created_from={recent}", ["order-1"]),
        ("?created_to={older}", ["'=HYPERLINK(1)"]),
        ("?created_from={older}&created_to={today}&status=passed", ["order-1"]),
        ("?created_from={older}&created_to={recent}", []),
    ],
)
def test_filters(client, ed, sessions, query, refs):
    today = timezone.localdate()
    query = query.format(today=today, recent=today - timedelta(days=5), older=today - timedelta(days=6))
    assert [r["external_ref"] for r in rows_of(export(client, ed, query))] == refs


@pytest.mark.parametrize(
    "query", ["?status=nope", "?method=x", "?created_from=2024-13-01", "?created_to=soon"]
)
def test_invalid_filters_are_refused_and_nothing_is_exported(client, ed, sessions, query):
    assert export(client, ed, query).status_code == 400
    assert not AuditEntry.objects.exists()


def test_each_export_leaves_exactly_one_audit_entry_without_personal_data(client, ed, sessions):
    response = export(client, ed, "?method=h5")
    rows_of(response)
    entry = AuditEntry.objects.get()
    assert entry.action == AuditEntry.Action.EXPORT and entry.actor == ed and entry.session_ref is None
    assert entry.detail == "sessions csv, 1 rows, masked, method=h5"
    for personal in ("张", "欧阳", "11010519491231002X", "110105", "440308"):
        assert personal not in entry.detail
