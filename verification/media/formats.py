"""What a stored file is: one table of the formats the portal keeps (each
with one extension and one exact type), names made from it, and the
signatures that tell an image's format. Also the one error every check
raises."""

import uuid
from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True)
class StoredFormat:
    extension: str
    content_type: str


# Every format the portal keeps, by the name the probes give it (a video's
# container, an image's format): the one place that says what a stored file
# is called and the exact type it is served as. The client's file name and
# declared type are never used: an upload named `x.html` that is an MP4 is
# stored and served as an MP4, and markup is no format here at all.
STORED_FORMATS = {
    "mp4": StoredFormat("mp4", "video/mp4"),
    "mov": StoredFormat("mov", "video/quicktime"),
    "3gp": StoredFormat("3gp", "video/3gpp"),
    "webm": StoredFormat("webm", "video/webm"),
    "matroska": StoredFormat("mkv", "video/x-matroska"),
    "jpeg": StoredFormat("jpg", "image/jpeg"),
    "png": StoredFormat("png", "image/png"),
}
IMAGE_FORMATS = frozenset({"jpeg", "png"})
VIDEO_FORMATS = frozenset(STORED_FORMATS) - IMAGE_FORMATS


def stored_name(format_name: str) -> str:
    """A new random storage name for a file of `format_name` (a key of
    STORED_FORMATS): nothing in it comes from the person or guesses well."""
    return f"{uuid.uuid4().hex}.{STORED_FORMATS[format_name].extension}"


def stored_format(name: str) -> StoredFormat | None:
    """What a stored file is served as, read back from the extension
    stored_name gave it; None for a name the table never makes (an older
    version kept the client's extension, `.html` say)."""
    extension = PurePosixPath(name).suffix[1:]
    return next((known for known in STORED_FORMATS.values() if known.extension == extension), None)


class MediaRejected(Exception):
    """A file no vendor should see; `message` tells the person what to do."""

    def __init__(self, code: str, message):
        super().__init__(code)
        self.code = code
        self.message = message


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def image_format(head: bytes) -> str | None:
    """"jpeg" or "png" from an image's first bytes (its signature), or None:
    for photos people send and images vendors return alike."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(PNG_SIGNATURE):
        return "png"
    return None
