"""Records made the way the portal makes them."""

from verification.models import VerificationSession


def new_session(*, realname: str = "", idcard: str = "", **fields) -> VerificationSession:
    """A saved session; a name and ID number go in as services put them
    (set_identity keeps the ID number's search hash in step)."""
    session = VerificationSession(**fields)
    session.set_identity(realname=realname, idcard=idcard)
    session.save(force_insert=True)
    return session


def challenge_shown_ago(session: VerificationSession, seconds: float = 20) -> None:
    """As if the session's challenge had been issued `seconds` ago: a clip
    cannot be longer than the time since its challenge (services.uploads),
    so a test that uploads a six-second clip at once moves the issue back."""
    from datetime import timedelta

    from django.utils import timezone

    VerificationSession.objects.filter(pk=session.pk).exclude(challenge_kind="").update(
        challenge_issued_at=timezone.now() - timedelta(seconds=seconds)
    )


def capture_report(*, mime_type: str = "video/webm;codecs=vp9,opus", camera: str = "Integrated Camera (04f2:b6dd)",
                   hidden_count: int = 0, **changes) -> dict:
    """What the recording page (static/js/recorder.js) sends as
    `capture_report` for a clip recorded with `camera`; `changes` replace
    whole keys."""
    report = {
        "mime_type": mime_type,
        "devices": [{"kind": "videoinput", "label": camera}, {"kind": "audioinput", "label": "Default"}],
        "tracks": [
            {"kind": "audio", "label": "Default", "width": None, "height": None, "frame_rate": None,
             "facing_mode": ""},
            {"kind": "video", "label": camera, "width": 480, "height": 640, "frame_rate": 30,
             "facing_mode": "user"},
        ],
        "hidden_count": hidden_count,
        "hidden_ms": 0,
    }
    return {**report, **changes}


def report_for(path_or_name) -> str:
    """The page's report (JSON) for a clip recorded in a file of this name's type."""
    import json

    name = str(path_or_name).lower()
    mime_type = ("video/webm" if name.endswith((".webm", ".mkv")) else
                 "image/jpeg" if name.endswith((".jpg", ".jpeg")) else "video/mp4")
    return json.dumps(capture_report(mime_type=mime_type))
