"""Uploaded videos and photos: what they are (judged from their content,
never their name or declared type), whether a vendor can use them, what
decoding them will cost (refused before it is spent when too much), their
fingerprint (to know a recording sent again), and the one normalised form
the vendors get. What a file is also names it in storage and types it when
staff open it (`formats.STORED_FORMATS`).

PyAV carries its own FFmpeg (with libx264 and aac), so no system ffmpeg is
needed. The names below are the package's interface; the modules behind
them are formats, video, normalise, photos, fingerprint and frames."""

from .fingerprint import Fingerprint, fingerprint_video
from .formats import STORED_FORMATS, MediaRejected, StoredFormat, image_format, stored_format, stored_name
from .normalise import Normalised, normalise_video
from .photos import (
    MAX_PHOTO_DECODED_BYTES,
    MAX_PHOTO_PIXELS,
    MAX_PNG_CHUNKS,
    VENDOR_PHOTO_MAX_BYTES,
    ImageFacts,
    image_header,
    normalise_photo,
    probe_image,
)
from .video import MAX_SECONDS, MIN_SECONDS, MIN_SHORT_SIDE, VideoFacts, check_video, probe_video

__all__ = [
    "MAX_PHOTO_DECODED_BYTES", "MAX_PHOTO_PIXELS", "MAX_PNG_CHUNKS", "MAX_SECONDS", "MIN_SECONDS", "MIN_SHORT_SIDE",
    "STORED_FORMATS", "VENDOR_PHOTO_MAX_BYTES", "Fingerprint", "ImageFacts", "MediaRejected", "Normalised",
    "StoredFormat", "VideoFacts", "check_video", "fingerprint_video", "image_format", "image_header",
    "normalise_photo", "normalise_video", "probe_image", "probe_video", "stored_format", "stored_name",
]
