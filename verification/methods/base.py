"""The contract every verification method fulfils.

A method is the one place that knows what it needs from the integrator
(identity, reference photo, options), what the person does (a vendor's
hosted page, a recorded video or a photo, and the challenge shown), what
its vendor accepts (size limits, speech), how it may be framed, and how
its vendor's answers become an `Outcome`. Services call these and apply
what comes back; templates ask the method object what to show. A method
never writes to the database: vendor calls are recorded through the
`recorder` the services hand it.
"""

from dataclasses import dataclass
from datetime import datetime

from ..domain.device import Device
from ..domain.outcome import ERROR, Outcome, Pending
from ..vendors.base import VendorError

HOSTED, VIDEO, PHOTO = "hosted", "video", "photo"


@dataclass(frozen=True)
class Challenge:
    """What the person must do on camera in one attempt, as stored on the
    session (`kind`, `value`)."""

    kind: str  # lip_code | digits | actions | none
    value: str = ""

    NONE = None  # set below: the challenge of methods that ask for nothing


Challenge.NONE = Challenge("none", "")


@dataclass(frozen=True)
class HostedStart:
    """A started hosted-page check: where to send the browser, and the
    vendor's handle on the check until it dies."""

    url: str
    vendor_token: str
    task_no: str
    token_expires_at: datetime


class Method:
    """Subclasses set the class attributes and override what applies to
    them; `verification.methods.REGISTRY` holds one instance of each."""

    name: str = ""
    label = ""
    vendor = None  # the vendor module (verification.vendors.<name>)
    page: str = ""  # HOSTED, VIDEO or PHOTO: what the person's page does
    needs_identity = False  # realname + idcard required
    accepts_reference_photo = False
    option_names: frozenset[str] = frozenset()
    # Options a one-click demo session uses (the landing page).
    demo_options: dict = {}

    # --- what the integrator must give ------------------------------------------

    def requirement_errors(self, *, realname: str, idcard: str, has_reference_photo: bool) -> dict[str, str]:
        """Fields missing or not allowed for this method, by field name."""
        errors = {}
        if self.needs_identity and not (realname and idcard):
            errors["realname" if not realname else "idcard"] = f"required for {self.name}"
        if has_reference_photo and not self.accepts_reference_photo:
            errors["reference_photo"] = f"{self.name} does not compare against a reference photo"
        return errors

    def clean_options(self, options: dict) -> tuple[dict, dict[str, str]]:
        """`options` as stored, and what is wrong with them by field
        (`options.<name>`). Checked before anything is stored or billed."""
        unknown = sorted(set(options) - self.option_names)
        if unknown:
            return {}, {"options": f"unknown option(s) for {self.name}: {', '.join(unknown)}"}
        return self._clean_known_options(options)

    def _clean_known_options(self, options: dict) -> tuple[dict, dict[str, str]]:
        return dict(options), {}

    # --- the person's page -------------------------------------------------------

    @property
    def is_hosted(self) -> bool:
        return self.page == HOSTED

    @property
    def is_recorded(self) -> bool:
        return self.page in (VIDEO, PHOTO)

    @property
    def takes_photo(self) -> bool:
        return self.page == PHOTO

    # In-app browsers (domain.device.IN_APP_BROWSERS names) where this
    # method's hosted page is known to fail: `auto` passes over it there.
    hosted_page_fails_in: frozenset[str] = frozenset()
    # In-app browsers that refuse the camera to our own recording page
    # (static/js/recorder.js, CAMERA_BLOCKING_APPS).
    camera_blocked_in: frozenset[str] = frozenset({"wechat"})

    def device_problem(self, device: Device) -> str:
        """Why this device cannot do this method, as a code ("" when it
        can): what `"method": "auto"` asks before choosing it."""
        if not device.camera:
            return "no_camera"
        if self.page == VIDEO and not device.microphone:
            return "no_microphone"
        if self.page == VIDEO and not device.media_recorder:
            return "cannot_record_video"
        if self.is_hosted and device.in_app in self.hosted_page_fails_in:
            return "in_app_browser"
        if self.is_recorded and device.in_app in self.camera_blocked_in:
            return "in_app_browser"
        return ""

    def iframe_allow(self) -> str:
        """The `allow` attribute an embedding `<iframe>` needs. A bare
        feature name delegates it to the frame's own origin."""
        return "camera" if self.page == PHOTO else "camera; microphone"

    def vendors_for(self, session) -> list:
        """The vendor modules that will see this session's face or identity,
        as the consent names them (their `DISPLAY_NAME`); `auto` passes over
        a method while any of them is down."""
        return [self.vendor]

    def needs_speech(self, session) -> bool:
        """Whether the person reads something aloud (the upload must carry
        audible sound)."""
        return False

    # --- recorded methods ---------------------------------------------------------

    max_upload_bytes: int = 0  # the vendor's limit for the video it is sent

    def new_challenge(self, session, *, recorder) -> Challenge:
        """The challenge of a new attempt; may ask the vendor for it."""
        return Challenge.NONE

    def challenge_for_page(self, challenge: Challenge):
        """The challenge's value as the recording page shows it."""
        return challenge.value or None

    def send(self, session, submission, media_path, *, recorder) -> Outcome:
        """Sends the vendor-ready file (a video or photo) and reads the
        verdict. VendorError escapes when no verdict came back."""
        raise NotImplementedError(f"{type(self).__name__} must provide send() (it records media)")

    # --- hosted-page methods --------------------------------------------------------

    def start(self, session, *, return_url: str, recorder) -> HostedStart:
        """Starts a (billed) check on the vendor's own page."""
        raise NotImplementedError(f"{type(self).__name__} must provide start() (it uses a hosted page)")

    def hosted_page_origin(self) -> str:
        """The origin of the vendor's page the person is sent to."""
        raise NotImplementedError(f"{type(self).__name__} must provide hosted_page_origin() (it uses a hosted page)")

    def hosted_url(self, session) -> str:
        """The vendor's page for the check the session holds a live token for."""
        raise NotImplementedError(f"{type(self).__name__} must provide hosted_url() (it uses a hosted page)")

    def collect(self, session, *, recorder) -> "Outcome | Pending":
        """Asks the vendor what became of the session's current check."""
        raise NotImplementedError(f"{type(self).__name__} must provide collect() (it uses a hosted page)")

    def fetch_face_image(self, url: str, *, recorder) -> bytes:
        """The face photo at the URL `collect` put in its outcome. VendorError
        when it did not come (or not as a JPEG or PNG)."""
        raise NotImplementedError(f"{type(self).__name__} must provide fetch_face_image() (its outcome names a face URL)")

    # Vendor codes of the result call that mean "ask again later".
    result_retry_codes: frozenset = frozenset()

    def expired_outcome(self) -> Outcome:
        """The outcome of a hosted check whose vendor token died without a
        final answer."""
        raise NotImplementedError(f"{type(self).__name__} must provide expired_outcome() (it uses a hosted page)")

    def __str__(self):
        return str(self.label)


def vendor_failure(error: VendorError) -> Outcome:
    """The outcome of a vendor call that gave no verdict: the vendor's own
    refusal (it answered with a code) or no usable answer at all."""
    return Outcome(
        ERROR,
        "vendor_rejected" if error.code else "vendor_unavailable",
        vendor=error.vendor,
        vendor_code=str(error.code or ""),
        retryable=not error.permanent,
    )

