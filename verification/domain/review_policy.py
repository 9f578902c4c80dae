"""The review policy: whether a session needs a human, and why. One pure
function, `triage(facts, policy)`, so the rules read as one table and are
tested as one (tests/unit/test_review_policy.py); services gather the facts
(`services.review.session_triage`) and the data migration that replaced
"pending" applies the same rules to the sessions that existed.

The rules, in order:

1. A decided session (`approved`, `rejected`) stays decided.
2. A session with no outcome (created, in progress, processing, cancelled)
   has nothing to decide: `not_needed`, whatever reasons were noted so far
   (they count once an outcome comes).
3. A session with an outcome (passed, failed, error, expired) needs review
   when any of these holds, each named by its code in `review_reasons`:

   | code | when |
   |---|---|
   | `file_upload` | the video or photo was chosen from files, not recorded in the page (noted at upload) |
   | `score_near_threshold` | a score lies within `score_margin_percent` of its threshold, on either side |
   | `vendors_disagree` | one vendor passed the person and another did not (Jumdata's liveness against Tencent's comparison) |
   | `identity_mismatch` | the name and ID number do not belong together |
   | `vendor_error_billed` | the attempt ended in a vendor error after a billed call: paid for, and nobody judged it |
   | `four_eyes` | a decision waits for a second reviewer's confirmation (noted by the decision) |

   Any other reason noted by the code that saw it (`flag_for_review`) also
   counts. With no reason the vendor's verdict stands: `not_needed`.

Settings: `KYC_REVIEW_SCORE_MARGIN_PERCENT` (default 10: a threshold of 80
puts 72–88 in review). The queue's SLA and the claim's idle time are read by
the back office (`KYC_REVIEW_SLA_HOURS`, `KYC_REVIEW_CLAIM_IDLE_MINUTES`)."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

NOT_NEEDED, NEEDS_REVIEW, APPROVED, REJECTED = "not_needed", "needs_review", "approved", "rejected"
DECIDED = frozenset({APPROVED, REJECTED})
OUTCOME_STATUSES = frozenset({"passed", "failed", "error", "expired"})

FILE_UPLOAD = "file_upload"
SCORE_NEAR_THRESHOLD = "score_near_threshold"
VENDORS_DISAGREE = "vendors_disagree"
IDENTITY_MISMATCH = "identity_mismatch"
VENDOR_ERROR_BILLED = "vendor_error_billed"
FOUR_EYES = "four_eyes"

# What each reason means, in the reviewer's language (filters, the case page).
REASON_LABELS = {
    FILE_UPLOAD: _("File chosen instead of recorded"),
    SCORE_NEAR_THRESHOLD: _("Score close to its threshold"),
    VENDORS_DISAGREE: _("Vendors disagree"),
    IDENTITY_MISMATCH: _("Name and ID number do not match"),
    VENDOR_ERROR_BILLED: _("Vendor error after a billed call"),
    FOUR_EYES: _("Second reviewer to confirm"),
    "virtual_camera": _("Virtual camera"),
}


def reason_label(code: str):
    return REASON_LABELS.get(code, code)


@dataclass(frozen=True)
class Policy:
    score_margin_percent: float = 10.0

    @classmethod
    def from_settings(cls) -> "Policy":
        from django.conf import settings

        return cls(score_margin_percent=settings.KYC_REVIEW_SCORE_MARGIN_PERCENT)


@dataclass(frozen=True)
class Facts:
    """What the policy looks at, read from a session and its vendor calls."""

    status: str
    passed: bool | None = None
    reason: str = ""
    scores: Mapping = field(default_factory=dict)
    noted: tuple[str, ...] = ()  # reasons already on the session (review_reasons)
    verdicts: Mapping[str, bool] = field(default_factory=dict)  # vendor → did it pass the person
    billed: bool = False  # any vendor call of the session was billed
    review_status: str = NOT_NEEDED


@dataclass(frozen=True)
class Triage:
    review_status: str
    reasons: tuple[str, ...]


def score_pairs(scores: Mapping) -> list[tuple[str, float, float | None]]:
    """Each numeric score with its threshold where the scores hold one
    (`sim` beside `sim_threshold`, Juhe's `living_score` beside `living_threshold`)."""
    pairs = []
    for name, value in scores.items():
        if name.endswith("_threshold") or not _number(value):
            continue
        threshold = scores.get(f"{name}_threshold")
        if threshold is None and name.endswith("_score"):
            threshold = scores.get(f"{name[:-len('_score')]}_threshold")
        pairs.append((name, value, threshold if _number(threshold) else None))
    return pairs


def scores_near_threshold(scores: Mapping, margin_percent: float) -> list[str]:
    """The scores within `margin_percent` of their thresholds, either side."""
    near = []
    for name, value, threshold in score_pairs(scores):
        if threshold is None:
            continue
        if abs(value - threshold) <= abs(threshold) * margin_percent / 100:
            near.append(name)
    return near


def triage(facts: Facts, policy: Policy = Policy()) -> Triage:
    noted = tuple(dict.fromkeys(facts.noted))
    if facts.review_status in DECIDED:
        return Triage(facts.review_status, noted)
    if facts.status not in OUTCOME_STATUSES:
        return Triage(NOT_NEEDED, noted)
    found = []
    if scores_near_threshold(facts.scores, policy.score_margin_percent):
        found.append(SCORE_NEAR_THRESHOLD)
    if len(set(facts.verdicts.values())) > 1:
        found.append(VENDORS_DISAGREE)
    if facts.reason == IDENTITY_MISMATCH:
        found.append(IDENTITY_MISMATCH)
    if facts.status == "error" and facts.billed:
        found.append(VENDOR_ERROR_BILLED)
    reasons = tuple(dict.fromkeys((*noted, *found)))
    return Triage(NEEDS_REVIEW if reasons else NOT_NEEDED, reasons)


def verdicts_from_calls(calls, *, success_codes: Mapping[str, frozenset], outcome_vendor: str,
                        passed: bool | None) -> dict[str, bool]:
    """Each vendor's verdict on the person: from the last billed call of each
    vendor (`calls`: (vendor, vendor_code) in order), whether its code was a
    success; the vendor whose answer decided the outcome, by the outcome."""
    verdicts = {}
    for vendor, code in calls:
        if vendor in success_codes:
            verdicts[vendor] = str(code) in success_codes[vendor]
    if outcome_vendor and passed is not None:
        verdicts[outcome_vendor] = passed
    return verdicts


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
