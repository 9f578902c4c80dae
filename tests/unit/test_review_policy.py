"""The review policy, as one table: each row a session's facts and what the
policy answers (verification/domain/review_policy.py)."""

import pytest

from verification.domain.review_policy import (
    Facts,
    Policy,
    Triage,
    scores_near_threshold,
    triage,
    verdicts_from_calls,
)

SUCCESS = {"jumdata": frozenset({"200", "201"}), "tencent": frozenset({"0"}), "juhe": frozenset({"0"})}

TABLE = [
    # (case, facts, review_status, reasons)
    ("a clear pass", Facts("passed", True, "passed", {"sim": 95, "sim_threshold": 80}), "not_needed", ()),
    ("a clear failure", Facts("failed", False, "not_live", {"live_status": -5008}), "not_needed", ()),
    ("abandoned: link expired", Facts("expired", False, "link_expired"), "not_needed", ()),
    ("still under way, even if flagged", Facts("processing", noted=("file_upload",)), "not_needed", ("file_upload",)),
    ("created and never opened", Facts("created"), "not_needed", ()),
    ("cancelled by the person", Facts("cancelled", None, "declined"), "not_needed", ()),
    ("file chosen instead of recorded", Facts("passed", True, "passed", noted=("file_upload",)), "needs_review",
     ("file_upload",)),
    ("score just above the threshold", Facts("passed", True, "passed", {"sim": 86, "sim_threshold": 80}),
     "needs_review", ("score_near_threshold",)),
    ("score just below the threshold", Facts("failed", False, "face_mismatch", {"sim": 73, "sim_threshold": 80}),
     "needs_review", ("score_near_threshold",)),
    ("score on the margin's edge", Facts("passed", True, "passed", {"sim": 88, "sim_threshold": 80}),
     "needs_review", ("score_near_threshold",)),
    ("score just outside the margin", Facts("passed", True, "passed", {"sim": 88.5, "sim_threshold": 80}),
     "not_needed", ()),
    ("fractional scores (Juhe)", Facts("passed", True, "passed", {"living_score": 0.71, "living_threshold": 0.6}),
     "not_needed", ()),
    ("fractional scores near (Juhe)", Facts("passed", True, "passed", {"living_score": 0.63, "living_threshold": 0.6}),
     "needs_review", ("score_near_threshold",)),
    ("a score with no threshold", Facts("passed", True, "passed", {"similarity": 76}), "not_needed", ()),
    ("vendors disagree", Facts("failed", False, "face_mismatch", verdicts={"jumdata": True, "tencent": False}),
     "needs_review", ("vendors_disagree",)),
    ("vendors agree", Facts("passed", True, "passed", verdicts={"jumdata": True, "tencent": True}), "not_needed", ()),
    ("identity mismatch", Facts("failed", False, "identity_mismatch"), "needs_review", ("identity_mismatch",)),
    ("vendor error after a billed call", Facts("error", False, "vendor_timeout", billed=True), "needs_review",
     ("vendor_error_billed",)),
    ("vendor error, nothing billed", Facts("error", False, "vendor_unavailable", billed=False), "not_needed", ()),
    ("four eyes due", Facts("failed", False, "not_live", noted=("four_eyes",)), "needs_review", ("four_eyes",)),
    ("reasons add up, in order, once each",
     Facts("failed", False, "identity_mismatch", {"sim": 79, "sim_threshold": 80}, noted=("file_upload", "file_upload")),
     "needs_review", ("file_upload", "score_near_threshold", "identity_mismatch")),
    ("an approved session stays approved", Facts("failed", False, "identity_mismatch", review_status="approved"),
     "approved", ()),
    ("a rejected session stays rejected", Facts("passed", True, "passed", noted=("file_upload",),
                                                review_status="rejected"), "rejected", ("file_upload",)),
    ("an undecided case is triaged again", Facts("passed", True, "passed", review_status="needs_review"),
     "not_needed", ()),
]


@pytest.mark.parametrize("facts, review_status, reasons", [row[1:] for row in TABLE], ids=[row[0] for row in TABLE])
def test_triage(facts, review_status, reasons):
    assert triage(facts, Policy(score_margin_percent=10)) == Triage(review_status, reasons)


@pytest.mark.parametrize("margin, expected", [(0, []), (2, []), (2.5, ["sim"]), (10, ["sim"])])
def test_the_margin_is_a_setting(margin, expected):
    assert scores_near_threshold({"sim": 82, "sim_threshold": 80}, margin) == expected


def test_policy_reads_settings(settings):
    settings.KYC_REVIEW_SCORE_MARGIN_PERCENT = 3
    assert Policy.from_settings() == Policy(score_margin_percent=3)


@pytest.mark.parametrize("calls, outcome_vendor, passed, expected", [
    ([("jumdata", "200")], "tencent", False, {"jumdata": True, "tencent": False}),
    ([("jumdata", "200"), ("jumdata", "202")], "jumdata", False, {"jumdata": False}),
    ([("tencent", "0")], "tencent", False, {"tencent": False}),
    ([("acme", "1")], "", None, {}),
])
def test_verdicts_from_calls(calls, outcome_vendor, passed, expected):
    assert verdicts_from_calls(calls, success_codes=SUCCESS, outcome_vendor=outcome_vendor, passed=passed) == expected
