"""`tencent_photo`: one selfie scored by Tencent's `livedetectpicture`
(vendor-docs 002), and with a name and ID number compared with the ID
photo by `idcardcompare`."""

from django.utils.translation import gettext_lazy as _

from ..domain.outcome import Image, Outcome
from ..vendors import tencent
from ..vendors.base import VendorRejected
from .base import PHOTO, Method


class TencentPhoto(Method):
    name = "tencent_photo"
    label = _("Tencent selfie photo")
    vendor = tencent
    page = PHOTO
    max_upload_bytes = tencent.PHOTO_MAX_BYTES

    def send(self, session, submission, media_path, *, recorder) -> Outcome:
        client = tencent.TencentClient.from_settings(recorder=recorder)
        image = media_path.read_bytes()
        try:
            liveness = client.detect_picture(image=image)
        except VendorRejected as error:
            if not tencent.is_verdict_code(error.code):
                raise
            return Outcome.failed("not_live", vendor=tencent.VENDOR, vendor_code=error.code,
                                  retryable=tencent.describe(error.code).user_fixable)
        scores = {"photo_score": liveness.score, "photo_score_threshold": liveness.threshold}
        if not liveness.passed:
            return Outcome.failed("not_live", vendor=tencent.VENDOR, vendor_code="0", scores=scores)
        if session.idcard:
            comparison = client.compare_idcard_image(
                idcard_number=session.idcard, idcard_name=session.realname, image=image
            )
            scores.update({"similarity": comparison.similarity, "similarity_threshold": comparison.threshold})
            if not comparison.passed:
                return Outcome.failed("face_mismatch", vendor=tencent.VENDOR, vendor_code="0", scores=scores)
        return Outcome.passed(vendor=tencent.VENDOR, vendor_code="0", scores=scores,
                              images=(Image("vendor_photo", image, is_face=True),))
