"""`tencent_lip`: Tencent's legacy lip-code liveness (vendor-docs 002).
`livegetfour` gives four digits; the person reads them aloud on camera;
`livedetectfour` judges the video, and with the integrator's reference
photo (`compare_flag`) compares the face with it."""

from django.utils.translation import gettext_lazy as _

from .. import media
from ..domain.outcome import Image, Outcome
from ..vendors import tencent
from ..vendors.base import VendorRejected
from .base import VIDEO, Challenge, Method


class TencentLip(Method):
    name = "tencent_lip"
    label = _("Tencent lip-code video")
    vendor = tencent
    page = VIDEO
    accepts_reference_photo = True
    max_upload_bytes = tencent.VIDEO_MAX_BYTES

    def needs_speech(self, session) -> bool:
        return True

    def new_challenge(self, session, *, recorder) -> Challenge:
        client = tencent.TencentClient.from_settings(recorder=recorder)
        return Challenge("lip_code", client.get_lip_code(seq=str(session.pk)))

    def send(self, session, submission, media_path, *, recorder) -> Outcome:
        client = tencent.TencentClient.from_settings(recorder=recorder)
        try:
            verdict = self._detect(client, session, submission, media_path)
        except VendorRejected as error:
            if not tencent.is_verdict_code(error.code):
                raise
            verdict = tencent.Verdict(False, "not_live", error.code,
                                      retryable=tencent.describe(error.code).user_fixable)
        return verdict_outcome(verdict)

    def _detect(self, client, session, submission, media_path) -> "tencent.Verdict":
        # The integrator's photo goes as the vendor takes any photo: an upright JPEG of a size it accepts.
        card = media.normalise_photo(session.reference_photo.read()) if session.reference_photo else None
        return client.detect_lip_video(
            validate_data=submission.challenge_value, video=media_path, card=card, seq=str(session.pk)
        )


def verdict_outcome(verdict: "tencent.Verdict") -> Outcome:
    """A Tencent detection verdict as an outcome; its photo is the face."""
    images = (Image("vendor_photo", verdict.photo, is_face=True),) if verdict.photo else ()
    code = str(verdict.vendor_code)  # 0 when Tencent answered and the scores decided
    if verdict.passed:
        return Outcome.passed(vendor=tencent.VENDOR, vendor_code=code, scores=verdict.scores, images=images)
    return Outcome.failed(verdict.reason, vendor=tencent.VENDOR, vendor_code=code, retryable=verdict.retryable,
                          scores=verdict.scores, images=images)
