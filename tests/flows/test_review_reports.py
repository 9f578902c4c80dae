"""What the dashboard tells a compliance lead about the review queue and
reviewers' work, and the failure reasons that compare vendors on the same terms."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone

from tests.support.factories import new_session
from verification.backoffice import reports
from verification.models import ReviewDecision, VendorCall, VerificationSession

pytestmark = pytest.mark.django_db


def queued(ref, hours, **fields):
    made = new_session(method="tencent_lip", external_ref=ref, review_status="needs_review", **fields)
    at = timezone.now() - timedelta(hours=hours)
    VerificationSession.objects.filter(pk=made.pk).update(queued_at=at)
    made.refresh_from_db()
    return made


def decide(session, reviewer, decision, *, after_hours, confirmer=None):
    made = ReviewDecision.objects.create(session=session, reviewer=reviewer, decision=decision, note="n",
                                         needs_second_reviewer=confirmer is not None)
    at = session.queued_at + timedelta(hours=after_hours)
    ReviewDecision.objects.filter(pk=made.pk).update(
        created_at=at, confirmed_by=confirmer, confirmed_at=at if confirmer else None)
    VerificationSession.objects.filter(pk=session.pk).update(review_status="approved" if decision == "approve"
                                                             else "rejected")


def test_the_queue_summary_counts_open_cases_the_oldest_and_those_past_the_sla():
    now = timezone.now()
    queued("a", 30)
    queued("b", 2)
    new_session(method="h5", external_ref="done", review_status="approved")
    summary = reports.review_queue_summary(now=now, sla_hours=24)
    assert (summary["size"], summary["overdue"]) == (2, 1)
    assert abs((now - summary["oldest_queued_at"]) - timedelta(hours=30)) < timedelta(seconds=5)


def test_decisions_give_the_median_wait_the_work_per_reviewer_and_the_overturn_rate():
    rita, ruth = User.objects.create_user("rita"), User.objects.create_user("ruth")
    decide(queued("a", 50, passed=False), rita, "approve", after_hours=1)  # overturns a failure
    decide(queued("b", 50, passed=True), rita, "approve", after_hours=3)
    decide(queued("c", 50, passed=False), ruth, "reject", after_hours=5, confirmer=rita)
    waiting = queued("d", 50, passed=True)
    ReviewDecision.objects.create(session=waiting, reviewer=ruth, decision="reject", note="n",
                                  needs_second_reviewer=True)  # not final: not counted

    figures = reports.review_decisions(days=30)

    assert figures["count"] == 3
    assert figures["median_seconds"] == 3 * 3600
    assert figures["per_reviewer"] == [("rita", 3), ("ruth", 1)]
    assert (figures["overturned"], figures["overturn_rate"]) == (1, 1 / 3)


def test_no_decision_gives_no_rate():
    assert reports.review_decisions(days=7) == {"count": 0, "median_seconds": None, "per_reviewer": [],
                                                "overturned": 0, "overturn_rate": None}


def test_failure_reasons_compare_vendors_on_the_same_terms():
    for ref, reason, vendor, code in [
        ("1", "not_live", "tencent", "-5008"), ("2", "not_live", "juhe", ""), ("6", "not_passed", "jumdata", "202"),
        ("3", "vendor_code", "juhe", "267549"),  # a video too short: what the others call not_live
        ("7", "vendor_code", "juhe", "10001"),  # a key refused: the vendor rejected the request
        ("4", "face_mismatch", "tencent", "0"), ("5", "vendor_unavailable", "jumdata", ""),
    ]:
        new_session(method="h5", external_ref=ref, status="failed", reason=reason, outcome_vendor=vendor,
                    vendor_code=code)
    new_session(method="h5", external_ref="ok", status="passed", reason="passed", outcome_vendor="tencent")

    found = reports.failure_reasons_by_vendor(days=30)

    assert found["reasons"] == ["not_live", "face_mismatch", "vendor_rejected", "vendor_unavailable"]
    assert found["series"] == {"juhe": [2, 0, 1, 0], "jumdata": [1, 0, 0, 1], "tencent": [1, 1, 0, 0]}


def test_tencent_field_statuses_are_charted_and_code_0_is_no_error():
    VendorCall.objects.create(vendor="tencent", endpoint="livegetfour", vendor_code="0", billed=True)
    VendorCall.objects.create(vendor="tencent", endpoint="livedetectfour", vendor_code="-5008", billed=True)
    assert reports.top_vendor_error_codes(days=1) == [{"vendor": "tencent", "code": "-5008", "count": 1}]


def test_the_dashboard_shows_the_review_figures(client):
    sam = User.objects.create_user("sam", is_staff=True)
    sam.groups.add(Group.objects.get(name="supervisors"))
    queued("a", 30)
    client.force_login(sam)
    page = client.get(reverse("admin:verification_dashboard"), HTTP_ACCEPT_LANGUAGE="en").text
    for anchor in ('id="queue-size"', 'id="oldest-case"', 'id="time-to-decision"', 'id="overturn-rate"',
                   'id="decisions-per-reviewer"', 'id="failure-reasons"'):
        assert anchor in page
    assert "30 h" in page.split('id="oldest-case"')[1][:300]
