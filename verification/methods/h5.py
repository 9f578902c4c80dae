"""`h5`: Jumdata's H5 liveness page (vendor-docs 004). `init` (billed)
hands out a token for the vendor's page; the browser comes back to our
return address; `result` says what happened. With a name and ID number,
Tencent's `idcardcompare` then checks the returned face against the ID
photo: a live face is not yet the right person."""

from dataclasses import replace
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..domain.outcome import EXPIRED, Outcome, Pending
from ..platform.origins import origin_of
from ..vendors import jumdata, tencent
from ..vendors.base import VendorError
from .base import HOSTED, HostedStart, Method, vendor_failure


class JumdataH5(Method):
    name = "h5"
    label = _("Jumdata H5 liveness")
    vendor = jumdata
    page = HOSTED
    option_names = frozenset({"actions", "colors"})
    result_retry_codes = jumdata.RESULT_RETRY_CODES
    # Apps whose WebView seldom lets a page use the camera (Jumdata's 203,
    # "the browser lacks the features for liveness capture"); docs/routing.md.
    hosted_page_fails_in = frozenset({"weibo", "douyin", "facebook", "instagram"})

    def vendors_for(self, session) -> list:
        # With a name and ID number, Tencent compares the returned face too.
        return [jumdata, tencent] if session.realname and session.idcard else [jumdata]

    def _clean_known_options(self, options):
        cleaned, errors = {}, {}
        for key in ("actions", "colors"):
            value = options.get(key)
            if value in (None, "", []):
                continue
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
                errors[f"options.{key}"] = "a list of names (or one comma-separated string)"
                continue
            cleaned[key] = [i.strip() for i in items]
        if not errors:
            problems = jumdata.options_errors(actions=cleaned.get("actions", ()), colors=cleaned.get("colors", ()))
            errors = {f"options.{key}": problem for key, problem in problems.items()}
        return cleaned, errors

    def hosted_page_origin(self) -> str:
        return origin_of(settings.JUMDATA_BASE_URL)

    def iframe_allow(self) -> str:
        # A bare feature name delegates it to the frame's `src` origin only,
        # and the frame navigates on to Jumdata's own page: its origin must be
        # named too, or the camera is blocked there and Jumdata answers 203.
        return f"camera 'src' {self.hosted_page_origin()}"

    def start(self, session, *, return_url, recorder) -> HostedStart:
        client = jumdata.JumdataClient.from_settings(recorder=recorder)
        started = client.init(
            return_url=return_url,
            actions=session.options.get("actions", ()),
            colors=session.options.get("colors", ()),
        )
        return HostedStart(
            url=client.html_url(started.token),
            vendor_token=started.token,
            task_no=started.task_no,
            token_expires_at=timezone.now() + timedelta(seconds=jumdata.TOKEN_TTL_SECONDS),
        )

    def hosted_url(self, session) -> str:
        return jumdata.JumdataClient.from_settings(recorder=None).html_url(session.vendor_token)

    def collect(self, session, *, recorder):
        result = jumdata.JumdataClient.from_settings(recorder=recorder).fetch_result(session.vendor_token)
        Result = jumdata.H5Outcome
        if result.outcome is Result.PENDING:
            return Pending("awaiting_result", vendor_code=str(result.code))
        if result.outcome is Result.PASSED:
            if session.idcard:
                return self._compare_with_idcard(session, result, recorder=recorder)
            return Outcome.passed(vendor=jumdata.VENDOR, vendor_code=result.code,
                                  face_image_url=result.face_image_url)
        status, reason = {
            Result.NOT_PASSED: ("failed", "not_passed"),
            Result.CHECK_FAILED: ("failed", "check_failed"),
            Result.TOKEN_EXPIRED: (EXPIRED, "token_expired"),
        }[result.outcome]
        return Outcome(status, reason, vendor=jumdata.VENDOR, vendor_code=str(result.code), retryable=True)

    def _compare_with_idcard(self, session, result, *, recorder) -> Outcome:
        """Without Tencent's answer the live face stays unconfirmed: the
        attempt ends in an error, and the face is kept for reviewers."""
        try:
            comparison = tencent.TencentClient.from_settings(recorder=recorder).compare_idcard(
                idcard_number=session.idcard, idcard_name=session.realname, image_url=result.face_image_url
            )
        except VendorError as error:
            return replace(vendor_failure(error), face_image_url=result.face_image_url)
        scores = {"similarity": comparison.similarity, "similarity_threshold": comparison.threshold}
        if comparison.passed:
            return Outcome.passed(vendor=jumdata.VENDOR, vendor_code=result.code, scores=scores,
                                  face_image_url=result.face_image_url)
        return Outcome.failed("face_mismatch", vendor=tencent.VENDOR, vendor_code="0", scores=scores,
                              face_image_url=result.face_image_url)

    def fetch_face_image(self, url, *, recorder) -> bytes:
        return jumdata.JumdataClient.from_settings(recorder=recorder).download_face_image(url)

    def expired_outcome(self) -> Outcome:
        return Outcome(EXPIRED, "token_expired", vendor=jumdata.VENDOR, vendor_code="301", retryable=True)
