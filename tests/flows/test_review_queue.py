"""Triage at the outcome, the migration that replaced "pending", and claims:
who works a case, lapsing, reassigning, and two reviewers never deciding
the same case."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, User
from django.utils import timezone

from tests.support.factories import new_session
from verification.domain.errors import InvalidInput
from verification.domain.outcome import Outcome
from verification.models import AuditEntry, ReviewDecision, VendorCall, VerificationSession
from verification.services import outcomes, review

pytestmark = pytest.mark.django_db


def staff(username, group="reviewers"):
    user = User.objects.create_user(username, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def rita():
    return staff("rita")


@pytest.fixture
def ruth():
    return staff("ruth")


@pytest.fixture
def sam():
    return staff("sam", "supervisors")


def case(ref="order-1", age_hours=1, **fields):
    fields = {"review_reasons": ["file_upload"], **fields}
    made = new_session(method="tencent_lip", external_ref=ref, status="failed", passed=False, reason="not_live",
                       review_status="needs_review", needs_review=True, **fields)
    at = timezone.now() - timedelta(hours=age_hours)
    VerificationSession.objects.filter(pk=made.pk).update(created_at=at, queued_at=at)
    made.refresh_from_db()
    return made


# --- triage at the outcome -------------------------------------------------------------------


@pytest.mark.parametrize("outcome, noted, expected", [
    (Outcome.passed(vendor="tencent", vendor_code=0, scores={"sim": 95, "sim_threshold": 80}), [], ("not_needed", [])),
    (Outcome.passed(vendor="tencent", vendor_code=0, scores={"sim": 83, "sim_threshold": 80}), [],
     ("needs_review", ["score_near_threshold"])),
    (Outcome.passed(vendor="tencent", vendor_code=0), ["file_upload"], ("needs_review", ["file_upload"])),
    (Outcome.failed("identity_mismatch", vendor="tencent", vendor_code=-5803, retryable=False), [],
     ("needs_review", ["identity_mismatch"])),
])
def test_an_outcome_is_triaged_by_the_policy(outcome, noted, expected):
    session = new_session(method="tencent_lip", external_ref="r", status="processing", attempts_used=1,
                          review_reasons=noted, needs_review=bool(noted))
    outcomes.finish(session, outcome)
    session.refresh_from_db()
    assert (session.review_status, session.review_reasons) == expected
    assert (session.queued_at is not None) == (expected[0] == "needs_review")


def test_vendors_that_disagree_send_the_session_to_review():
    session = new_session(method="h5", external_ref="r", status="in_progress", attempts_used=1)
    VendorCall.objects.create(session=session, vendor="jumdata", endpoint="result", vendor_code="200", billed=True)
    VendorCall.objects.create(session=session, vendor="tencent", endpoint="idcardcompare", vendor_code="0", billed=True)
    outcomes.finish(session, Outcome.failed("face_mismatch", vendor="tencent", vendor_code=0,
                                            scores={"similarity": 40.0, "similarity_threshold": 75.0}))
    session.refresh_from_db()
    assert (session.review_status, session.review_reasons) == ("needs_review", ["vendors_disagree"])


def test_a_vendor_error_after_a_billed_call_needs_review_but_not_one_never_billed():
    billed = new_session(method="juhe_video", external_ref="billed", status="processing", attempts_used=1)
    VendorCall.objects.create(session=billed, vendor="juhe", endpoint="verify", billed=None, error="timeout")
    free = new_session(method="juhe_video", external_ref="free", status="processing", attempts_used=1)
    VendorCall.objects.create(session=free, vendor="juhe", endpoint="verify", billed=False, error="refused")
    for session in (billed, free):
        outcomes.finish(session, Outcome("error", "vendor_timeout", vendor="juhe", retryable=True))
    billed.refresh_from_db()
    free.refresh_from_db()
    assert (billed.review_status, free.review_status) == ("needs_review", "not_needed")


def test_a_flag_after_the_outcome_puts_the_session_in_the_queue():
    session = new_session(method="h5", external_ref="r", status="passed", passed=True)
    session.flag_for_review("virtual_camera")
    session.refresh_from_db()
    assert (session.review_status, session.review_reasons) == ("needs_review", ["virtual_camera"])
    assert session.queued_at is not None


def test_a_decided_session_keeps_its_decision_when_triaged_again():
    session = new_session(method="h5", external_ref="r", status="failed", passed=False, reason="identity_mismatch",
                          review_status="approved")
    review.session_triage(session=session)
    session.refresh_from_db()
    assert session.review_status == "approved"


# --- the migration of existing sessions -----------------------------------------------------


def test_existing_pending_sessions_are_migrated_to_the_state_they_call_for():
    rows = {
        "created": dict(status="created"),
        "abandoned": dict(status="expired", reason="link_expired"),
        "cancelled": dict(status="cancelled", reason="declined"),
        "clear_pass": dict(status="passed", passed=True, reason="passed", scores={"sim": 97, "sim_threshold": 80}),
        "near": dict(status="passed", passed=True, reason="passed", scores={"sim": 81, "sim_threshold": 80}),
        "file": dict(status="passed", passed=True, reason="passed", needs_review=True, review_reasons=["file_upload"]),
        "mismatch": dict(status="failed", passed=False, reason="identity_mismatch"),
        "waiting": dict(status="failed", passed=False, reason="not_live"),
        "approved": dict(status="failed", passed=False, reason="identity_mismatch", review_status="approved"),
    }
    made = {ref: new_session(method="tencent_lip", external_ref=ref, **fields) for ref, fields in rows.items()}
    completed = timezone.now() - timedelta(hours=30)
    VerificationSession.objects.exclude(review_status="approved").update(review_status="pending",
                                                                          completed_at=completed)
    rita = User.objects.create_user("rita")
    ReviewDecision.objects.create(session=made["waiting"], decision="reject", note="n", reviewer=rita,
                                  needs_second_reviewer=True)

    migration = importlib.import_module("verification.migrations.0027_review_queue")
    migration.triage_pending(apps, schema_editor=None)

    after = {s.external_ref: (s.review_status, s.review_reasons) for s in VerificationSession.objects.all()}
    assert after == {
        "created": ("not_needed", []), "abandoned": ("not_needed", []), "cancelled": ("not_needed", []),
        "clear_pass": ("not_needed", []), "near": ("needs_review", ["score_near_threshold"]),
        "file": ("needs_review", ["file_upload"]), "mismatch": ("needs_review", ["identity_mismatch"]),
        "waiting": ("needs_review", ["four_eyes"]), "approved": ("approved", []),
    }
    near = VerificationSession.objects.get(external_ref="near")
    assert near.queued_at == completed and near.needs_review
    assert VerificationSession.objects.get(external_ref="created").queued_at is None


def test_stored_tencent_detections_are_shown_under_their_field_status():
    judged = VendorCall.objects.create(vendor="tencent", endpoint="livedetectfour", vendor_code="0", billed=True,
                                       response_summary={"code": 0, "data": {"live_status": 0, "compare_status": -5803}})
    passed = VendorCall.objects.create(vendor="tencent", endpoint="livedetectfour", vendor_code="0", billed=True,
                                       response_summary={"code": 0, "data": {"live_status": 0, "compare_status": 0}})
    lip = VendorCall.objects.create(vendor="tencent", endpoint="livegetfour", vendor_code="0", billed=True,
                                    response_summary={"code": 0, "data": {"validate_data": "1234"}})

    importlib.import_module("verification.migrations.0027_review_queue").tencent_field_statuses(apps, None)

    codes = dict(VendorCall.objects.values_list("pk", "vendor_code"))
    assert (codes[judged.pk], codes[passed.pk], codes[lip.pk]) == ("-5803", "0", "0")


def test_supervisors_may_reassign_and_reviewers_may_not(rita, sam):
    assert sam.has_perm("verification.reassign_case") and not rita.has_perm("verification.reassign_case")


# --- claims -----------------------------------------------------------------------------------


def test_next_case_claims_the_oldest_unclaimed_case(rita, ruth):
    newer, older, oldest = case("newer", 1), case("older", 5), case("oldest", 9)
    review.case_claim(session=oldest, reviewer=ruth)

    taken = review.case_next(reviewer=rita)

    assert taken == older
    older.refresh_from_db()
    assert older.claimed_by == rita
    assert review.case_next(reviewer=rita) == older  # her own claim first, not another case
    assert AuditEntry.objects.filter(action="claim", actor_name="rita").count() == 1
    assert newer.claimed_by is None


def test_next_case_offers_a_four_eyes_case_to_anyone_but_the_first_reviewer(rita, ruth, settings):
    settings.KYC_FOUR_EYES = True
    waiting = case("waiting", 9)
    other = case("other", 1)
    review.session_decide(session=waiting, reviewer=rita, decision="reject", note="Not the same person.")
    assert review.case_next(reviewer=rita) == other
    assert review.case_next(reviewer=ruth) == waiting


def test_next_case_finds_nothing_when_every_case_is_taken_or_decided(rita, ruth):
    review.case_claim(session=case("a"), reviewer=ruth)
    new_session(method="h5", external_ref="done", status="passed", passed=True, review_status="approved")
    assert review.case_next(reviewer=rita) is None


def test_a_claimed_case_is_refused_to_another_reviewer_until_the_claim_lapses(rita, ruth, settings):
    settings.KYC_REVIEW_CLAIM_IDLE_MINUTES = 30
    session = case()
    now = timezone.now()
    review.case_claim(session=session, reviewer=rita, now=now)

    with pytest.raises(review.CaseTaken, match="rita"):
        review.case_claim(session=session, reviewer=ruth, now=now + timedelta(minutes=29))
    review.case_claim(session=session, reviewer=ruth, now=now + timedelta(minutes=30))

    session.refresh_from_db()
    assert session.claimed_by == ruth


def test_activity_keeps_a_claim_alive(rita, ruth):
    session = case()
    review.case_claim(session=session, reviewer=rita, now=timezone.now() - timedelta(minutes=29))
    review.case_note(session=session, author=rita, text="Asked the client for a document.")
    with pytest.raises(review.CaseTaken):
        review.case_claim(session=session, reviewer=ruth, now=timezone.now() + timedelta(minutes=2))


def test_a_supervisor_reassigns_a_case_and_a_reviewer_cannot(rita, ruth, sam):
    session = case()
    review.case_claim(session=session, reviewer=rita)
    with pytest.raises(InvalidInput):
        review.case_reassign(session=session, actor=ruth, to=ruth)

    review.case_reassign(session=session, actor=sam, to=ruth)

    session.refresh_from_db()
    assert session.claimed_by == ruth
    assert AuditEntry.objects.get(action="reassign").detail == "to ruth"


def test_two_reviewers_never_decide_the_same_case(rita, ruth):
    seen_by_rita = case()
    seen_by_ruth = VerificationSession.objects.get(pk=seen_by_rita.pk)  # both opened the page

    review.session_decide(session=seen_by_rita, reviewer=rita, decision="approve", note="Same person.")
    with pytest.raises(InvalidInput):
        review.session_decide(session=seen_by_ruth, reviewer=ruth, decision="reject", note="Not the same.")

    seen_by_rita.refresh_from_db()
    assert seen_by_rita.review_status == "approved" and seen_by_rita.claimed_by is None
    assert list(ReviewDecision.objects.values_list("reviewer__username", flat=True)) == ["rita"]


def test_a_reviewer_cannot_decide_a_case_another_holds(rita, ruth):
    session = case()
    review.case_claim(session=session, reviewer=ruth)
    stale = VerificationSession.objects.get(pk=session.pk)
    stale.claimed_by = None  # as read before ruth claimed it

    with pytest.raises(review.CaseTaken):
        review.session_decide(session=stale, reviewer=rita, decision="approve", note="ok")
    assert not ReviewDecision.objects.exists()


def test_only_one_of_two_second_reviewers_confirms(rita, ruth, sam, settings):
    settings.KYC_FOUR_EYES = True
    session = case()
    made = review.session_decide(session=session, reviewer=rita, decision="reject", note="Not the same person.")
    session.refresh_from_db()
    assert (session.review_status, session.review_reasons, session.claimed_by) == (
        "needs_review", ["file_upload", "four_eyes"], None)
    first, second = ReviewDecision.objects.get(pk=made.pk), ReviewDecision.objects.get(pk=made.pk)

    review.decision_confirm(decision=first, reviewer=ruth)
    with pytest.raises(InvalidInput):
        review.decision_confirm(decision=second, reviewer=sam)

    session.refresh_from_db()
    assert session.review_status == "rejected"
    assert ReviewDecision.objects.get().confirmed_by == ruth


# --- the queue and the case page, over HTTP ----------------------------------------------------

from django.urls import reverse  # noqa: E402

from verification.models import ApiClient  # noqa: E402

CHANGELIST = "admin:verification_verificationsession_changelist"


def page_of(session):
    return reverse("admin:verification_verificationsession_change", args=[session.pk])


@pytest.mark.parametrize("query, shown", [
    ({"reason": "identity_mismatch"}, "mismatch"),
    ({"method__exact": "h5"}, "h5-case"),
    ({"vendor": "juhe"}, "juhe-case"),
    ({"age": "overdue"}, "old-case"),
    ({"age": "new"}, "h5-case"),
])
def test_queue_filters(client, rita, query, shown):
    case("mismatch", 6, review_reasons=["identity_mismatch"], outcome_vendor="tencent")
    new_h5 = case("h5-case", 1, outcome_vendor="jumdata")
    VerificationSession.objects.filter(pk=new_h5.pk).update(method="h5")
    case("juhe-case", 6, outcome_vendor="juhe")
    case("old-case", 30, outcome_vendor="tencent")
    client.force_login(rita)
    page = client.get(reverse(CHANGELIST), query).text
    found = {ref for ref in ("mismatch", "h5-case", "juhe-case", "old-case") if f">{ref}<" in page}
    assert found == {shown}


def test_the_client_filter(client, rita):
    acme = ApiClient.objects.create(name="acme")
    case("acme-case", client=acme)
    case("other-case")
    client.force_login(rita)
    page = client.get(reverse(CHANGELIST), {"client__id__exact": acme.pk}).text
    assert ">acme-case<" in page and ">other-case<" not in page


def test_next_case_opens_and_claims_the_oldest(client, rita):
    case("newer", 1)
    oldest = case("oldest", 8)
    client.force_login(rita)
    answer = client.post(reverse("admin:verification_next_case"))
    assert answer.status_code == 302 and answer["Location"] == page_of(oldest)
    oldest.refresh_from_db()
    assert oldest.claimed_by == rita
    queue = client.get(reverse(CHANGELIST), follow=True).text
    assert "<td class=\"field-holder\">rita</td>" in queue


def test_the_decision_form_preselects_nothing_and_needs_an_outcome(client, rita):
    decided = case("ready")
    unfinished = case("unfinished")
    VerificationSession.objects.filter(pk=unfinished.pk).update(status="processing")
    client.force_login(rita)

    page = client.get(page_of(decided), HTTP_ACCEPT_LANGUAGE="en").text
    assert 'id="decision-form"' in page and 'type="radio"' in page and "checked" not in page.split(
        'id="decision-form"')[1].split("</form>")[0]
    assert page.index('id="evidence"') < page.index('id="decision"') < page.index('id="timeline"') < page.index(
        'id="raw-fields"')

    other = client.get(page_of(unfinished), HTTP_ACCEPT_LANGUAGE="en").text
    assert 'id="decision-form"' not in other and "the session has no outcome" in other


def test_a_case_held_by_another_shows_who_and_offers_no_decision(client, rita, ruth):
    session = case()
    review.case_claim(session=session, reviewer=ruth)
    client.force_login(rita)
    page = client.get(page_of(session), HTTP_ACCEPT_LANGUAGE="en").text
    assert "ruth is working on this case" in page and 'id="decision-form"' not in page


def test_a_note_without_deciding_joins_the_timeline(client, rita):
    session = case()
    client.force_login(rita)
    client.post(reverse("admin:verification_note", args=[session.pk]), {"note": "Called the client."})
    page = client.get(page_of(session)).text
    assert "Called the client." in page.split('id="timeline"')[1]
    session.refresh_from_db()
    assert session.review_status == "needs_review" and not ReviewDecision.objects.exists()


def test_a_supervisor_reassigns_from_the_case_page(client, rita, ruth, sam):
    session = case()
    review.case_claim(session=session, reviewer=rita)
    client.force_login(sam)
    assert 'id="reassign-form"' in client.get(page_of(session)).text
    client.post(reverse("admin:verification_reassign", args=[session.pk]), {"reviewer": ruth.pk})
    session.refresh_from_db()
    assert session.claimed_by == ruth

    client.force_login(rita)
    assert 'id="reassign-form"' not in client.get(page_of(session)).text
    client.post(reverse("admin:verification_reassign", args=[session.pk]), {"reviewer": rita.pk})
    session.refresh_from_db()
    assert session.claimed_by == ruth


def test_a_decision_answers_beside_the_form_and_offers_the_next_case(client, rita):
    session = case()
    client.force_login(rita)
    answer = client.post(reverse("admin:verification_decide", args=[session.pk]),
                         {"decision": "approve", "note": "Same person."}, follow=True)
    decision_part = answer.text.split('id="decision"')[1]
    assert 'id="decision-messages"' in decision_part and 'id="next-case"' in decision_part


def test_one_audit_entry_per_case_view_names_the_media_it_shows(client, rita, ruth, settings, tmp_path):
    from django.core.files.base import ContentFile

    from tests.support.media_samples import make_jpeg
    from verification.models import SessionImage

    settings.MEDIA_ROOT = tmp_path
    session = case()
    session.face_image.save("face.jpg", ContentFile(make_jpeg()), save=True)
    SessionImage.objects.create(session=session, attempt=1, kind="best_frame", image=ContentFile(make_jpeg(), name="b.jpg"))
    client.force_login(rita)

    page = client.get(page_of(session)).text
    links = [part.split('"')[0].replace("&amp;", "&") for part in page.split('<img src="')[1:] if "/media/" in part]
    assert len(links) == 2
    for link in links:
        response = client.get(link)
        assert response.status_code == 200
        b"".join(response.streaming_content)

    entries = AuditEntry.objects.filter(session_ref=session.pk).exclude(action="claim")
    assert [(e.action, e.detail) for e in entries] == [("view_session", "shown: face, best_frame#1")]

    client.force_login(ruth)  # rita's links, opened by someone else: audited on their own
    client.get(links[0])
    assert AuditEntry.objects.filter(action="view_media", actor_name="ruth").count() == 1
    client.get(links[0].split("?")[0])  # a bare link: audited
    assert AuditEntry.objects.filter(action="view_media", actor_name="ruth").count() == 2


# The test database on SQLite is in memory with a shared cache, whose table
# locks fail at once instead of waiting: parallel deciders need a server.
@pytest.mark.skipif(__import__("django.db").db.connection.vendor != "postgresql",
                    reason="parallel writers need a server database")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_reviewers_deciding_in_parallel_make_exactly_one_decision(round_):
    import threading

    from django.db import connection

    deciders = [User.objects.create_user(f"r{n}", is_staff=True) for n in range(4)]
    session_id = case(f"race-{round_}").pk
    ready, outcomes_ = threading.Barrier(len(deciders)), []

    def decide_as(user):
        try:
            seen = VerificationSession.objects.get(pk=session_id)  # each opened the page
            ready.wait()
            review.session_decide(session=seen, reviewer=user, decision="approve", note="Looks right.")
            outcomes_.append("decided")
        except InvalidInput:
            outcomes_.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=decide_as, args=(user,)) for user in deciders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes_) == ["decided"] + ["refused"] * (len(deciders) - 1)
    assert ReviewDecision.objects.filter(session_id=session_id).count() == 1
    assert VerificationSession.objects.get(pk=session_id).review_status == "approved"


def test_vendor_codes_are_explained_in_the_reviewers_language(client, rita):
    session = case("codes", vendor_code="-5008", outcome_vendor="tencent")
    VendorCall.objects.create(session=session, vendor="tencent", endpoint="livedetectfour", vendor_code="-5008",
                              billed=True)
    client.force_login(rita)
    english = client.get(page_of(session), HTTP_ACCEPT_LANGUAGE="en").text
    chinese = client.get(page_of(session), HTTP_ACCEPT_LANGUAGE="zh-hans").text
    outcome_en = english.split('id="outcome"')[1].split("</section>")[0]
    assert "The numbers you read did not match" in outcome_en and "语音识别失败" in outcome_en
    assert "The numbers you read did not match" in english.split('id="vendor-calls"')[1]
    assert "您读的数字不正确" in chinese.split('id="vendor-calls"')[1]
