"""`faceid_lip`: Tencent Cloud FaceID's digits liveness on our recording
page (vendor-docs tencent-faceid-v3.md §6). `GetLiveCode` gives the digits
the person reads aloud; the video goes to `LivenessRecognition` (LIP)
against the ID photo of the name and ID number, or, for a person the
integrator sent a reference photo for instead, to `LivenessCompare`."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .. import media
from ..domain.outcome import ERROR, FAILED, Image, Outcome
from ..vendors import faceid
from ..vendors.base import VendorRejected
from .base import VIDEO, Challenge, Method


class FaceIdLip(Method):
    name = "faceid_lip"
    label = _("Tencent FaceID lip-code video")
    vendor = faceid
    page = VIDEO
    accepts_reference_photo = True
    max_upload_bytes = faceid.VIDEO_MAX_BYTES

    def requirement_errors(self, *, realname, idcard, has_reference_photo):
        """A name and ID number (LivenessRecognition), or a reference photo
        (LivenessCompare): something to compare the face with."""
        if has_reference_photo and (realname or idcard):
            return {"reference_photo": f"{self.name} takes a name and ID number, or a reference photo, not both"}
        if has_reference_photo:
            return {}
        if not realname:
            return {"realname": f"required for {self.name} (or send a reference_photo)"}
        if not idcard:
            return {"idcard": f"required for {self.name} (or send a reference_photo)"}
        return {}

    def needs_speech(self, session) -> bool:
        return True

    def new_challenge(self, session, *, recorder) -> Challenge:
        return Challenge("lip_code", faceid.FaceIdClient.from_settings(recorder=recorder).get_live_code())

    def send(self, session, submission, media_path, *, recorder) -> Outcome:
        client = faceid.FaceIdClient.from_settings(recorder=recorder)
        try:
            if session.idcard:
                answer = client.liveness_recognition(idcard=session.idcard, name=session.realname,
                                                     video=media_path, live_code=submission.challenge_value)
            else:
                photo = media.normalise_photo(session.reference_photo.read())
                answer = client.liveness_compare(image=photo, video=media_path,
                                                 live_code=submission.challenge_value)
        except VendorRejected as error:
            # A business failure may come as an Error rather than a Result (digest §6.4).
            if not faceid.is_verdict_code(error.code):
                raise
            answer = faceid.Liveness(result=error.code, description="", sim=None, best_frame=None,
                                     request_id=error.request_id)
        return lip_outcome(answer, threshold=settings.FACEID_SIM_THRESHOLD)


def lip_outcome(answer: "faceid.Liveness", *, threshold: float) -> Outcome:
    """A pass needs Result "Success" and Sim at the threshold (digest §6.4)."""
    images = (Image("best_frame", answer.best_frame, is_face=True),) if answer.best_frame else ()
    scores = {"sim": answer.sim, "sim_threshold": threshold} if answer.sim is not None else {}
    common = dict(vendor=faceid.VENDOR, vendor_code=answer.result, scores=scores, images=images)
    if answer.result == "Success":
        if answer.sim is not None and answer.sim >= threshold:
            return Outcome.passed(**common)
        return Outcome(FAILED, "face_mismatch", retryable=True, **common)
    known = faceid.describe(answer.result)
    status = FAILED if known.reason in faceid.VERDICT_REASONS else ERROR
    return Outcome(status, known.reason, retryable=known.user_fixable or (status == ERROR and not known.permanent),
                   **common)
