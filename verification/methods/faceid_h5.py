"""`faceid_h5`: Tencent Cloud FaceID's own H5 page (vendor-docs
tencent-faceid-v3.md §5). `DetectAuth` (RuleId, RedirectUrl back to the
portal, the name and ID number when given) hands out a BizToken and the
page's Url; the person does the check there and comes back; the portal
asks `GetDetectInfoEnhanced`, server to server, for the verdict, the best
frame and the video. The return proves nothing: only the answer for the
BizToken stored on the session counts. The polling chain of
services.hosted reconciles a check the person never came back from."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..domain.outcome import ERROR, EXPIRED, FAILED, PASSED, Image, Outcome, Pending
from ..vendors import faceid
from .base import HOSTED, HostedStart, Method

# Not final: nothing chosen yet, or the flow is not finished (the person may
# still be on the page until the BizToken dies).
PENDING_CODES = frozenset({None, 17})


class FaceIdH5(Method):
    name = "faceid_h5"
    label = _("Tencent FaceID H5 page")
    vendor = faceid
    page = HOSTED
    # Answers of GetDetectInfoEnhanced that mean "ask again later".
    result_retry_codes = frozenset({
        "InternalError", "InternalError.UnKnown", "FailedOperation.UnKnown", "RequestLimitExceeded",
        "FailedOperation.RequestLimitExceeded", "AuthFailure.SignatureExpire",
    })

    def hosted_page_origin(self) -> str:
        return settings.FACEID_H5_ORIGIN

    def iframe_allow(self) -> str:
        # Delegated to the vendor's page too (it records a video, with sound
        # in the digits mode), as for Jumdata's.
        origin = self.hosted_page_origin()
        return f"camera 'src' {origin}; microphone 'src' {origin}"

    def start(self, session, *, return_url, recorder) -> HostedStart:
        client = faceid.FaceIdClient.from_settings(recorder=recorder)
        started = client.detect_auth(redirect_url=return_url, name=session.realname, idcard=session.idcard)
        return HostedStart(
            url=started.url, vendor_token=started.biz_token, task_no=started.request_id[:64],
            token_expires_at=timezone.now() + timedelta(seconds=faceid.BIZ_TOKEN_TTL_SECONDS),
        )

    def hosted_url(self, session) -> str:
        return session.vendor_url

    def collect(self, session, *, recorder):
        info = faceid.FaceIdClient.from_settings(recorder=recorder).get_detect_info(session.vendor_token)
        if info.err_code in PENDING_CODES:
            return Pending("awaiting_result", vendor_code="" if info.err_code is None else str(info.err_code))
        return h5_outcome(info, session, threshold=settings.FACEID_SIM_THRESHOLD)

    def expired_outcome(self) -> Outcome:
        return Outcome(EXPIRED, "token_expired", vendor=faceid.VENDOR, vendor_code="15", retryable=True)


def h5_outcome(info: "faceid.DetectInfo", session, *, threshold: float) -> Outcome:
    """The verdict of a final Text: a pass needs every part of it, never
    just "no error" (digest §5.3), and the identity Tencent verified must be
    the one the integrator sent."""
    images = (Image("best_frame", info.best_frame, is_face=True),) if info.best_frame else ()
    scores = {"sim": info.sim, "sim_threshold": threshold, "live_status": info.live_status,
              "compare_status": info.compare_status}
    scores = {key: value for key, value in scores.items() if value is not None}
    common = dict(vendor=faceid.VENDOR, scores=scores, images=images, video=info.video or b"")
    code = info.err_code
    if code != 0:
        known = faceid.describe(code)
        if known.reason == "token_expired":
            return Outcome(EXPIRED, "token_expired", vendor_code=str(code), retryable=True, **common)
        status = FAILED if known.reason in faceid.VERDICT_REASONS else ERROR
        retryable = known.user_fixable or (status == ERROR and not known.permanent)
        return Outcome(status, known.reason, vendor_code=str(code), retryable=retryable, **common)
    if info.live_status != 0:
        return Outcome(FAILED, "not_live", vendor_code="0", retryable=True, **common)
    if info.compare_status != 0 or info.sim is None or info.sim < threshold:
        return Outcome(FAILED, "face_mismatch", vendor_code="0", retryable=True, **common)
    if session.idcard and (info.idcard.upper() != session.idcard.upper() or info.name != session.realname):
        # Tencent verified someone, not the person the integrator named.
        return Outcome(FAILED, "identity_mismatch", vendor_code="0", retryable=False, **common)
    if not info.idcard and not session.idcard:
        return Outcome(FAILED, "identity_unverifiable", vendor_code="0", retryable=False, **common)
    return Outcome(PASSED, "passed", vendor_code="0", **common)
