"""`juhe_video`: Juhe's `face_vedio/verify` (vendor-docs 000), silent
(`liveness_type` 0), four digits read aloud (1) or two actions in a random
order (2). The challenge is ours: Juhe checks the video against it."""

import secrets

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from ..domain.outcome import Image, Outcome
from ..vendors import juhe
from .base import VIDEO, Challenge, Method

LIVENESS_TYPES = (juhe.LIVENESS_SILENT, juhe.LIVENESS_DIGITS, juhe.LIVENESS_ACTIONS)
# Juhe's action numbers as the recording page names them.
ACTION_NAMES = {juhe.ACTION_OPEN_MOUTH: "open_mouth", juhe.ACTION_CLOSE_EYES: "close_eyes"}


class JuheVideo(Method):
    name = "juhe_video"
    label = _("Juhe video liveness")
    vendor = juhe
    page = VIDEO
    option_names = frozenset({"liveness_type"})
    demo_options = {"liveness_type": juhe.LIVENESS_DIGITS}
    max_upload_bytes = juhe.VIDEO_MAX_BYTES

    def _clean_known_options(self, options):
        value = options.get("liveness_type")
        if value is None:
            return {}, {}
        if isinstance(value, bool) or value not in LIVENESS_TYPES:
            return {}, {"options.liveness_type": f"one of {', '.join(map(str, LIVENESS_TYPES))}"}
        return {"liveness_type": value}, {}

    @staticmethod
    def liveness_type(session) -> int:
        return int(session.options.get("liveness_type", juhe.LIVENESS_SILENT))

    def needs_speech(self, session) -> bool:
        return self.liveness_type(session) == juhe.LIVENESS_DIGITS

    def new_challenge(self, session, *, recorder) -> Challenge:
        liveness_type = self.liveness_type(session)
        if liveness_type == juhe.LIVENESS_DIGITS:
            return Challenge("digits", "".join(secrets.choice("0123456789") for _ in range(4)))
        if liveness_type == juhe.LIVENESS_ACTIONS:
            order = [juhe.ACTION_OPEN_MOUTH, juhe.ACTION_CLOSE_EYES]
            secrets.SystemRandom().shuffle(order)
            return Challenge("actions", ",".join(order))
        return Challenge.NONE

    def challenge_for_page(self, challenge: Challenge):
        if challenge.kind == "actions":
            return [ACTION_NAMES[action] for action in challenge.value.split(",")]
        return super().challenge_for_page(challenge)

    def send(self, session, submission, media_path, *, recorder) -> Outcome:
        client = juhe.JuheClient.from_settings(recorder=recorder)
        verdict = client.verify_video(
            video=media_path, liveness_type=self.liveness_type(session),
            validate_data=submission.challenge_value, best_frames=settings.JUHE_BEST_FRAMES,
        )
        images = tuple(Image("best_frame", frame, is_face=number == 0)
                       for number, frame in enumerate(verdict.best_frames))
        if verdict.passed:
            return Outcome.passed(vendor=juhe.VENDOR, vendor_code=verdict.vendor_code, images=images,
                                  order_no=verdict.order_id)
        return Outcome.failed("not_live", vendor=juhe.VENDOR, vendor_code=verdict.vendor_code,
                              retryable=verdict.retryable, images=images, order_no=verdict.order_id)
