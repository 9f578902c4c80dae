"""`{% capture_facts session as attempts %}`: what each attempt's capture
looked like, for the reviewer (templates/admin/verification/verificationsession/evidence/capture.html).
A tag library, so the include needs only `session` in its context and any
case page can show it. Registered in settings (TEMPLATES libraries)."""

from django import template

from ..services import capture

register = template.Library()

# The review reasons that come from time and the capture (services.uploads, services.capture).
CAPTURE_REASONS = ("virtual_camera", "not_in_page_recorder", "file_upload", "late_start", "implausible_duration")


@register.simple_tag
def capture_facts(session) -> dict:
    attempts = []
    for submission in session.submissions.order_by("attempt", "created_at"):
        report = submission.capture_report or None
        virtual = set(capture.virtual_camera_labels(report))
        tracks = [{**track, "virtual": track["label"] in virtual} for track in (report or {}).get("tracks", [])]
        issued = submission.challenge_issued_at
        attempts.append({
            "submission": submission,
            "report": report,
            "video": next((t for t in tracks if t["kind"] == "video"), None),
            "audio": next((t for t in tracks if t["kind"] == "audio"), None),
            "devices": [{**device, "virtual": any(p in device["label"].casefold()
                                                   for p in capture.virtual_camera_patterns())}
                        for device in (report or {}).get("devices", [])],
            "seconds_after_challenge": round((submission.created_at - issued).total_seconds(), 1) if issued else None,
            "duration": (submission.facts or {}).get("duration"),
        })
    return {
        "attempts": attempts,
        "reasons": [reason for reason in session.review_reasons if reason in CAPTURE_REASONS],
    }
