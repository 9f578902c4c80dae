"""What the browser says about how a recording was captured: the device
labels it sees (after permission), the settings of the tracks it recorded
(resolution, frame rate, facing mode), the recorder's MIME type, and
whether the page stayed visible. The recording page (static/js/recorder.js)
sends it with the upload as the multipart field `capture_report`, JSON.

All of it is the browser's word: a compromised browser, or a script posting
to the upload address, says what it likes. So it can only add scrutiny: a
known virtual camera, or an upload that does not look like the in-page
recorder's, marks the session for review (the person is not told why);
nothing in it passes anyone."""

import json
import math

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from ..domain.errors import WrongStep

FIELD = "capture_report"
MAX_BYTES = 8 * 1024
MAX_DEVICES = 16
MAX_TRACKS = 4
MAX_LABEL = 200
MAX_MIME_TYPE = 100

# Labels, or parts of labels (case ignored), of cameras that are programs:
# they show whatever they are fed, a prepared or synthesised video included.
# KYC_VIRTUAL_CAMERA_LABELS adds more.
KNOWN_VIRTUAL_CAMERAS = (
    "OBS Virtual Camera", "OBS-Camera", "OBS Camera", "ManyCam", "Snap Camera", "XSplit", "DroidCam",
    "v4l2loopback", "Dummy video device",  # v4l2loopback's default card label
)

DEVICE_KINDS = frozenset({"videoinput", "audioinput"})
TRACK_KINDS = frozenset({"video", "audio"})
FACING_MODES = frozenset({"", "user", "environment", "left", "right"})

# A recorder MIME type, and the containers (media.probe_video) or image
# formats (media.probe_image) it can make.
MADE_BY = {
    "video/webm": frozenset({"webm", "matroska"}),
    "video/x-matroska": frozenset({"webm", "matroska"}),
    "video/mp4": frozenset({"mp4"}),
    "image/jpeg": frozenset({"jpeg"}),
}


def refused(problem: str) -> WrongStep:
    return WrongStep(
        _("The capture details sent with the upload were not understood (%(problem)s). Reload the page and "
          "try again.") % {"problem": problem},
        code="bad_capture_report",
    )


def parse_report(text: str | None) -> dict | None:
    """The report as stored, or None when none was sent. Anything other
    than exactly the expected shape is refused (WrongStep), whole."""
    if text is None or text == "":
        return None
    if len(text.encode()) > MAX_BYTES:
        raise refused(f"more than {MAX_BYTES} bytes")
    try:
        raw = json.loads(text, parse_constant=_no_constant)
    except ValueError:
        raise refused("not JSON") from None
    report = _object(raw, "report", {"mime_type", "devices", "tracks", "hidden_count", "hidden_ms"})
    return {
        "mime_type": _text(report["mime_type"], "mime_type", MAX_MIME_TYPE),
        "devices": [_device(item) for item in _list(report["devices"], "devices", MAX_DEVICES)],
        "tracks": [_track(item) for item in _list(report["tracks"], "tracks", MAX_TRACKS)],
        "hidden_count": _integer(report["hidden_count"], "hidden_count", high=10_000),
        "hidden_ms": _integer(report["hidden_ms"], "hidden_ms", high=24 * 3600 * 1000),
    }


def _no_constant(name):
    raise ValueError(name)


def _object(value, name: str, keys: set) -> dict:
    if not isinstance(value, dict):
        raise refused(f"{name} is not an object")
    if set(value) != keys:
        raise refused(f"{name} must have exactly: {', '.join(sorted(keys))}")
    return value


def _list(value, name: str, most: int) -> list:
    if not isinstance(value, list):
        raise refused(f"{name} is not a list")
    if len(value) > most:
        raise refused(f"more than {most} {name}")
    return value


def _text(value, name: str, most: int, *, allowed=None) -> str:
    if not isinstance(value, str) or len(value) > most or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise refused(f"{name} is not a short line of text")
    if allowed is not None and value not in allowed:
        raise refused(f"{name} is not one of {', '.join(sorted(allowed - {''}))}")
    return value


def _integer(value, name: str, *, high: int, nullable=False):
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise refused(f"{name} is not a whole number from 0 to {high}")
    return value


def _number(value, name: str, *, high: float):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0 <= value <= high:
        raise refused(f"{name} is not a number from 0 to {high}")
    return round(float(value), 3)


def _device(value) -> dict:
    device = _object(value, "a device", {"kind", "label"})
    return {"kind": _text(device["kind"], "a device's kind", 16, allowed=DEVICE_KINDS),
            "label": _text(device["label"], "a device's label", MAX_LABEL)}


def _track(value) -> dict:
    track = _object(value, "a track", {"kind", "label", "width", "height", "frame_rate", "facing_mode"})
    return {
        "kind": _text(track["kind"], "a track's kind", 8, allowed=TRACK_KINDS),
        "label": _text(track["label"], "a track's label", MAX_LABEL),
        "width": _integer(track["width"], "a track's width", high=16384, nullable=True),
        "height": _integer(track["height"], "a track's height", high=16384, nullable=True),
        "frame_rate": _number(track["frame_rate"], "a track's frame rate", high=1000),
        "facing_mode": _text(track["facing_mode"], "a track's facing mode", 16, allowed=FACING_MODES),
    }


# --- what it calls for ---------------------------------------------------------------


def virtual_camera_patterns() -> tuple[str, ...]:
    return tuple(p.casefold() for p in (*KNOWN_VIRTUAL_CAMERAS, *settings.KYC_VIRTUAL_CAMERA_LABELS) if p)


def virtual_camera_labels(report: dict | None) -> list[str]:
    """The labels of the recorded video tracks that name a known virtual
    camera. (Other cameras in the device list are evidence, not a reason:
    a computer may have OBS installed and film with its own camera.)"""
    if not report:
        return []
    patterns = virtual_camera_patterns()
    return [track["label"] for track in report["tracks"]
            if track["kind"] == "video" and any(p in track["label"].casefold() for p in patterns)]


def looks_recorded_in_page(report: dict | None, *, stored_as: str) -> bool:
    """Whether an upload said to come from the page's recorder looks like
    it: the page sent a report, with the video track it recorded, and the
    file is of the type the page's recorder said it made."""
    if not report or not any(track["kind"] == "video" for track in report["tracks"]):
        return False
    made = MADE_BY.get(report["mime_type"].split(";")[0].strip().lower())
    return made is not None and stored_as in made


def review_reasons(report: dict | None, *, from_recorder: bool, stored_as: str) -> tuple[str, ...]:
    """The review reasons the capture calls for (codes), in order."""
    reasons = []
    if from_recorder and not looks_recorded_in_page(report, stored_as=stored_as):
        reasons.append("not_in_page_recorder")
    if virtual_camera_labels(report):
        reasons.append("virtual_camera")
    return tuple(reasons)


def summary(report: dict | None, reasons: tuple[str, ...]) -> str:
    """One line for the audit trail (at most 255 characters)."""
    if not report:
        line = "no capture report"
    else:
        video = next((t for t in report["tracks"] if t["kind"] == "video"), None)
        camera = (f"{video['label'][:60]!r} {video['width']}x{video['height']}@{video['frame_rate']} "
                  f"{video['facing_mode'] or '-'}") if video else "no video track"
        line = f"camera {camera}; {report['mime_type'][:40] or 'no type'}; hidden {report['hidden_count']}x"
    if reasons:
        line += f"; review: {', '.join(reasons)}"
    return line[:255]
