"""The back office: the queue, the evidence, decisions, the audit log and
every permission boundary.

Personas: rita reviews (group reviewers), sam supervises (group
supervisors), oscar is staff with no group and should have no access to
sessions or media; anonymous visitors get the login page."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from tests.support.media_samples import make_jpeg
from tests.support.factories import new_session
from verification.domain.errors import IllegalTransition
from verification.models import (
    AuditEntry,
    ReviewDecision,
    SessionImage,
    Submission,
    VendorCall,
    VerificationSession,
)

pytestmark = pytest.mark.django_db

IDCARD = "11010519491231002X"


def staff(username, group=None):
    user = User.objects.create_user(username, password="pw-" + username + "-123", is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def rita(client):
    return staff("rita", "reviewers")


@pytest.fixture
def sam():
    return staff("sam", "supervisors")


@pytest.fixture
def oscar():
    return staff("oscar")


def as_user(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def session(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    found = new_session(
        method="tencent_lip", external_ref="order-42", vendor_task_no="043439882226367117195632", status="failed",
        passed=False, reason="face_mismatch", realname="张三", idcard=IDCARD, attempts_used=1,
        scores={"sim": 62, "sim_threshold": 80}, vendor_code="0", outcome_vendor="tencent",
        review_status="needs_review", review_reasons=["file_upload"], needs_review=True,
    )
    found.face_image.save("face.jpg", ContentFile(make_jpeg()), save=True)
    Submission.objects.create(session=found, attempt=1, kind="video", capture="file", content_sha256="a" * 64,
                              original=ContentFile(b"\x00\x00\x00\x18ftypmp42", name="orig.mp4"),
                              facts={"container": "mp4", "video_codec": "h264", "audio_codec": "aac", "width": 480,
                                     "height": 640, "duration": 6.0, "speech_dbfs": -21.5})
    SessionImage.objects.create(session=found, attempt=1, kind="best_frame", image=ContentFile(make_jpeg(), name="f.jpg"))
    VendorCall.objects.create(session=found, vendor="tencent", endpoint="livedetectfour", vendor_code="-5008", billed=False)
    return found


def change_url(session):
    return reverse("admin:verification_verificationsession_change", args=[session.pk])


# --- the queue ----------------------------------------------------------------------------


def test_the_queue_opens_on_cases_needing_review_oldest_first(client, rita, settings):
    settings.KYC_REVIEW_SLA_HOURS = 24
    now = timezone.now()
    for ref, review, age in [("new-pending", "needs_review", 1), ("old-approved", "approved", 9),
                             ("old-pending", "needs_review", 5), ("auto-passed", "not_needed", 7)]:
        made = new_session(method="h5", external_ref=ref, review_status=review)
        at = now - timedelta(days=age)
        VerificationSession.objects.filter(pk=made.pk).update(
            created_at=at, queued_at=at - timedelta(days=10) if review == "approved" else at)
    changelist = reverse("admin:verification_verificationsession_changelist")

    page = as_user(client, rita).get(changelist, follow=True).text
    assert page.index("old-pending") < page.index("new-pending")
    assert "old-approved" not in page and "auto-passed" not in page
    assert page.count('class="sla"') == 2  # both waited past the 24-hour SLA

    everything = client.get(changelist, {"review_status__exact": "all"}).text
    assert everything.index("old-pending") < everything.index("new-pending") < everything.index("old-approved")
    assert "auto-passed" in everything


def test_the_queue_masks_names_and_id_numbers(client, rita, session):
    page = as_user(client, rita).get(reverse("admin:verification_verificationsession_changelist"), follow=True).text
    assert "张**" in page
    assert "张三" not in page and IDCARD[:6] not in page and IDCARD[6:14] not in page


@pytest.mark.parametrize("term", ["order-42", "043439882226367117195632"])
def test_staff_find_a_session_by_reference_or_vendor_number(client, rita, session, term):
    new_session(method="h5", external_ref="order-43")
    page = as_user(client, rita).get(reverse("admin:verification_verificationsession_changelist"), {"q": term}).text
    assert "order-42" in page and "order-43" not in page


@pytest.mark.parametrize("query", [{"status__exact": "failed"}, {"vendor_code": "0"}, {"method__exact": "tencent_lip"}])
def test_filters(client, rita, session, query):
    new_session(method="h5", external_ref="order-43", status="passed", vendor_code="200")
    page = as_user(client, rita).get(reverse("admin:verification_verificationsession_changelist"), query).text
    assert "order-42" in page and "order-43" not in page


# --- the session page and its evidence ---------------------------------------------------------


def test_a_reviewer_sees_the_evidence_and_is_audited(client, rita, session):
    page = as_user(client, rita).get(change_url(session)).text

    assert 'id="evidence"' in page and "livedetectfour" in page and "语音识别失败" in page
    assert "62" in page and "meets-no" in page  # the score against its threshold
    assert "480×640 6.0s · 语音音量 -21.5 dBFS" in page  # the back office speaks Chinese
    assert page.count("<video") >= 1 and reverse("admin:verification_session_media", args=[session.pk, "face"]) in page
    assert "张三" not in page and IDCARD not in page and 'id="show-identity"' not in page
    entry = AuditEntry.objects.get()
    assert (entry.actor_name, entry.action, entry.session_ref) == ("rita", "view_session", session.pk)


def test_a_reviewer_cannot_reach_the_full_identity(client, rita, session):
    response = as_user(client, rita).get(reverse("admin:verification_identity", args=[session.pk]))
    assert response.status_code == 403
    assert not AuditEntry.objects.filter(action="view_identity").exists()


def test_a_supervisor_sees_the_full_identity_and_is_audited(client, sam, session):
    response = as_user(client, sam).get(reverse("admin:verification_identity", args=[session.pk]))
    assert response.status_code == 200 and "张三" in response.text and IDCARD in response.text
    assert "no-store" in response["Cache-Control"]
    assert AuditEntry.objects.get(action="view_identity").actor_name == "sam"


def media_urls(session):
    submission, image = session.submissions.get(), session.images.get()
    return [
        reverse("admin:verification_media", args=["original", submission.public_id]),
        reverse("admin:verification_media", args=["image", image.public_id]),
        reverse("admin:verification_session_media", args=[session.pk, "face"]),
    ]


def test_a_reviewer_plays_media_uncached_and_audited(client, rita, session):
    as_user(client, rita)
    for url in media_urls(session):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"] and response["X-Content-Type-Options"] == "nosniff"
        b"".join(response.streaming_content)
    assert AuditEntry.objects.filter(action="view_media", actor_name="rita").count() == 3


def test_staff_without_the_permission_reach_no_session_and_no_media(client, oscar, session):
    as_user(client, oscar)
    assert client.get(change_url(session)).status_code == 403
    for url in media_urls(session) + [reverse("admin:verification_identity", args=[session.pk])]:
        assert client.get(url).status_code == 403, url
    assert not AuditEntry.objects.exists()


def test_anonymous_visitors_get_the_login_page_everywhere(client, session):
    urls = [reverse("admin:index"), change_url(session), reverse("admin:verification_identity", args=[session.pk]),
            reverse("admin:verification_auditentry_changelist"), *media_urls(session)]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and reverse("admin:login") in response["Location"], url


def test_media_have_no_public_url(client, session, settings):
    assert client.get("/media/" + session.face_image.name).status_code == 404


# --- decisions ---------------------------------------------------------------------------------


def decide(client, session, decision, note="Checked the video by hand."):
    return client.post(reverse("admin:verification_decide", args=[session.pk]), {"decision": decision, "note": note})


def test_a_reviewer_approves_with_a_note(client, rita, session):
    as_user(client, rita)

    assert decide(client, session, "approve").status_code == 302

    session.refresh_from_db()
    assert session.review_status == "approved"
    made = ReviewDecision.objects.get()
    assert (made.decision, made.reviewer, made.is_final) == ("approve", rita, True)
    assert AuditEntry.objects.filter(action="decide", actor_name="rita").exists()


def test_a_decision_needs_a_note(client, rita, session):
    decide(as_user(client, rita), session, "reject", note="  ")
    session.refresh_from_db()
    assert session.review_status == "needs_review" and not ReviewDecision.objects.exists()


def test_asking_for_a_retry_gives_the_person_one_more_attempt(client, rita, session):
    session.max_attempts = 1
    session.save()
    decide(as_user(client, rita), session, "retry")
    session.refresh_from_db()
    assert (session.review_status, session.max_attempts, session.retry_allowed) == ("needs_review", 2, True)


def test_staff_without_review_permission_cannot_decide(client, oscar, session):
    assert decide(as_user(client, oscar), session, "approve").status_code == 403
    session.refresh_from_db()
    assert session.review_status == "needs_review"


def test_four_eyes_a_rejection_waits_for_a_second_reviewer(client, rita, sam, session, settings):
    settings.KYC_FOUR_EYES = True
    decide(as_user(client, rita), session, "reject")
    session.refresh_from_db()
    assert session.review_status == "needs_review"
    waiting = ReviewDecision.objects.get()
    assert waiting.needs_second_reviewer and not waiting.is_final

    client.post(reverse("admin:verification_confirm", args=[session.pk, waiting.pk]))  # rita again: refused
    session.refresh_from_db()
    assert session.review_status == "needs_review"

    as_user(client, sam).post(reverse("admin:verification_confirm", args=[session.pk, waiting.pk]))
    session.refresh_from_db()
    waiting.refresh_from_db()
    assert session.review_status == "rejected" and waiting.confirmed_by == sam


def test_four_eyes_approving_a_failed_outcome_waits_but_a_passed_one_does_not(client, rita, session, settings):
    settings.KYC_FOUR_EYES = True
    passed = new_session(method="h5", external_ref="ok", status="passed", passed=True, review_status="needs_review")
    as_user(client, rita)
    decide(client, session, "approve")
    decide(client, passed, "approve")
    session.refresh_from_db()
    passed.refresh_from_db()
    assert (session.review_status, passed.review_status) == ("needs_review", "approved")


# --- the audit log is append-only ---------------------------------------------------------------


def test_nobody_can_change_or_delete_audit_entries(client, session):
    boss = User.objects.create_superuser("boss", "b@example.com", "pw-boss-123")
    entry = AuditEntry.objects.create(actor=boss, actor_name="boss", action="view_session", session_ref=session.pk)
    as_user(client, boss)

    assert client.post(reverse("admin:verification_auditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    client.post(reverse("admin:verification_auditentry_change", args=[entry.pk]), {"detail": "edited"})
    changelist = client.post(reverse("admin:verification_auditentry_changelist"),
                             {"action": "delete_selected", "_selected_action": [entry.pk]})
    assert changelist.status_code in (200, 302, 403)
    assert AuditEntry.objects.get(pk=entry.pk).detail == ""
    with pytest.raises(IllegalTransition):
        entry.delete()
    entry.detail = "tampered"
    with pytest.raises(IllegalTransition):
        entry.save()


# --- retention and erasure ---------------------------------------------------------------------


def test_purge_deletes_old_media_and_later_identity_but_keeps_the_decision(session, rita, settings):
    from verification.services import review

    review.session_decide(session=session, reviewer=rita, decision="reject", note="Not the same person.")
    files = [session.face_image.path, session.submissions.get().original.path, session.images.get().image.path]
    VerificationSession.objects.filter(pk=session.pk).update(created_at=timezone.now() - timedelta(days=31))

    call_command("purge_expired")

    from pathlib import Path

    assert not any(Path(f).exists() for f in files)
    session.refresh_from_db()
    assert not session.face_image and not SessionImage.objects.exists()
    assert (session.realname, session.idcard, session.review_status) == ("张三", IDCARD, "rejected")
    assert AuditEntry.objects.filter(action="purge", actor_name="system").count() == 1

    VerificationSession.objects.filter(pk=session.pk).update(created_at=timezone.now() - timedelta(days=181))
    call_command("purge_expired")
    session.refresh_from_db()
    assert (session.realname, session.idcard, session.status, session.reason) == ("", "", "failed", "face_mismatch")
    assert ReviewDecision.objects.filter(session=session).exists()


def test_a_supervisor_erases_a_session_on_request(client, sam, rita, session):
    changelist = reverse("admin:verification_verificationsession_changelist")
    as_user(client, rita).post(changelist, {"action": "erase_personal_data", "_selected_action": [session.pk]})
    session.refresh_from_db()
    assert session.idcard == IDCARD, "reviewers may not erase"

    asked = as_user(client, sam).post(changelist, {"action": "erase_personal_data", "_selected_action": [session.pk]},
                                      HTTP_ACCEPT_LANGUAGE="en")
    session.refresh_from_db()
    assert session.idcard == IDCARD and not AuditEntry.objects.filter(action="erase").exists(), "nothing yet"
    page = asked.text
    # The face, one upload and one best frame: three files.
    assert 'id="erase-confirmation"' in page and "order-42" in page and "3 files in all." in page
    assert "ID number" in page.split('id="erase-fields"')[1] and "audit log" in page.split('id="erase-kept"')[1]

    client.post(changelist, {"action": "erase_personal_data", "_selected_action": [session.pk], "confirm_erase": "yes"})

    session.refresh_from_db()
    assert (session.realname, session.idcard, bool(session.face_image)) == ("", "", False)
    assert AuditEntry.objects.get(action="erase").actor_name == "sam"


def test_a_supervisor_erases_one_session_from_its_page_after_confirming(client, sam, rita, session):
    erase = reverse("admin:verification_erase", args=[session.pk])
    assert as_user(client, rita).get(erase).status_code == 403
    assert 'id="erase-link"' not in client.get(change_url(session)).text

    as_user(client, sam)
    assert 'id="erase-link"' in client.get(change_url(session)).text
    confirmation = client.get(erase).text
    assert 'id="confirm-erase"' in confirmation
    client.post(erase)  # without the confirmation: nothing
    session.refresh_from_db()
    assert session.idcard == IDCARD

    client.post(erase, {"confirm_erase": "yes"})
    session.refresh_from_db()
    assert (session.realname, session.idcard) == ("", "")
    assert AuditEntry.objects.filter(action="erase", actor_name="sam").count() == 1


# --- login -----------------------------------------------------------------------------------------


def test_failed_logins_lock_the_account_before_the_password_is_checked(client, rita, settings):
    settings.ADMIN_LOGIN_MAX_FAILURES_PER_ACCOUNT = 3
    login = reverse("admin:login")
    for _ in range(3):
        assert client.post(login, {"username": "rita", "password": "wrong"}).status_code == 200

    right_password = client.post(login, {"username": "rita", "password": "pw-rita-123"})

    assert right_password.status_code == 429 and 'id="throttled"' in right_password.text
    assert "_auth_user_id" not in client.session


def test_failures_from_elsewhere_do_not_lock_a_colleague_out(client, rita, settings):
    """An attacker typing rita's user name with wrong passwords locks out
    only their own address; rita, at her desk, still signs in."""
    settings.ADMIN_LOGIN_MAX_FAILURES_PER_ACCOUNT = 3
    login = reverse("admin:login")
    for _ in range(5):
        client.post(login, {"username": "rita", "password": "guess"}, REMOTE_ADDR="203.0.113.9")

    attacker_with_the_password = client.post(login, {"username": "rita", "password": "pw-rita-123"},
                                             REMOTE_ADDR="203.0.113.9")
    rita_at_her_desk = client.post(login, {"username": "rita", "password": "pw-rita-123"}, REMOTE_ADDR="10.1.2.3")

    assert attacker_with_the_password.status_code == 429
    assert rita_at_her_desk.status_code == 302 and client.session["_auth_user_id"] == str(rita.pk)


def test_failed_logins_from_one_address_lock_that_address(client, rita, oscar, settings):
    settings.ADMIN_LOGIN_MAX_FAILURES_PER_IP = 2
    login = reverse("admin:login")
    client.post(login, {"username": "nobody", "password": "x"})
    client.post(login, {"username": "someone", "password": "x"})
    assert client.post(login, {"username": "oscar", "password": "pw-oscar-123"}).status_code == 429


def test_the_admin_lives_at_admin_url(settings):
    assert reverse("admin:index") == "/" + settings.ADMIN_URL


@pytest.mark.parametrize("term", [IDCARD, IDCARD.lower()])
def test_supervisors_find_a_session_by_its_exact_id_number(client, sam, session, term):
    new_session(method="h5", external_ref="order-43", realname="李四", idcard="440524188001010014")
    page = as_user(client, sam).get(reverse("admin:verification_verificationsession_changelist"), {"q": term}).text
    assert "order-42" in page and "order-43" not in page


def test_part_of_an_id_number_finds_nothing(client, sam, session):
    page = as_user(client, sam).get(reverse("admin:verification_verificationsession_changelist"), {"q": IDCARD[:10]}).text
    assert "order-42" not in page


def test_the_retention_task_runs_and_queues_itself_for_tomorrow(session):
    from django_tasks_db.models import DBTaskResult

    from verification.services.retention import purge_expired_data

    VerificationSession.objects.filter(pk=session.pk).update(created_at=timezone.now() - timedelta(days=31))
    purge_expired_data.call()

    session.refresh_from_db()
    assert not session.face_image
    (next_run,) = DBTaskResult.objects.filter(task_path=purge_expired_data.module_path)
    assert timedelta(hours=23) < next_run.run_after - timezone.now() <= timedelta(days=1)
    call_command("purge_expired", "--schedule")
    assert DBTaskResult.objects.filter(task_path=purge_expired_data.module_path).count() == 1


@pytest.mark.parametrize("language, text", [("en", "Review and oversight"), ("zh-hans", "审核与监控")])
def test_the_admin_speaks_chinese_and_english(client, rita, language, text):
    page = as_user(client, rita).get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE=language).text
    assert text in page
