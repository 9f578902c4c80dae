"""`juhe_video_auth`: Juhe's `videoAuth/query` (vendor-docs 001), liveness
and a comparison with the ID photo of the name and ID number in one call.
`rate_type` 1–7 picks the liveness threshold. The vendor's pictures live
24 hours, so they are downloaded at once."""

from django.utils.translation import gettext_lazy as _

from ..domain.outcome import Image, Outcome
from ..vendors import juhe
from ..vendors.base import VendorError
from .base import VIDEO, Method

RATE_TYPES = tuple(juhe.RATE_TYPE_THRESHOLDS)


class JuheVideoAuth(Method):
    name = "juhe_video_auth"
    label = _("Juhe video liveness with ID check")
    vendor = juhe
    page = VIDEO
    needs_identity = True
    option_names = frozenset({"rate_type"})
    max_upload_bytes = juhe.VIDEO_MAX_BYTES

    def _clean_known_options(self, options):
        value = options.get("rate_type")
        if value is None:
            return {}, {}
        if isinstance(value, bool) or value not in RATE_TYPES:
            return {}, {"options.rate_type": f"one of {', '.join(map(str, RATE_TYPES))}"}
        return {"rate_type": value}, {}

    def send(self, session, submission, media_path, *, recorder) -> Outcome:
        client = juhe.JuheClient.from_settings(recorder=recorder)
        verdict = client.verify_identity_video(
            video=media_path, realname=session.realname, idcard=session.idcard,
            rate_type=int(session.options.get("rate_type", 1)),
        )
        images = []
        for url in verdict.picture_urls:
            try:
                picture = client.download_picture(url)
            except VendorError:
                continue  # the verdict stands; the call's record keeps the failed download
            if picture:
                images.append(Image("vendor_picture", picture, is_face=not images))
        if verdict.passed:
            return Outcome.passed(vendor=juhe.VENDOR, vendor_code=verdict.vendor_code, scores=verdict.scores,
                                  images=tuple(images), order_no=verdict.order_id)
        return Outcome.failed(verdict.reason, vendor=juhe.VENDOR, vendor_code=verdict.vendor_code,
                              retryable=verdict.retryable, scores=verdict.scores, images=tuple(images),
                              order_no=verdict.order_id)
