"""What one vendor step ended in, as a value. Methods make these; the
services apply them in one place (`verification.services.outcomes.finish`):
record the outcome on the session, keep the images, save, announce."""

from dataclasses import dataclass, field

PASSED, FAILED, ERROR, EXPIRED = "passed", "failed", "error", "expired"


@dataclass(frozen=True)
class Image:
    """A face or picture a vendor gave back, kept as evidence."""

    kind: str  # SessionImage.Kind: best_frame | vendor_photo | vendor_picture
    content: bytes
    is_face: bool = False  # the one shown as the session's face


@dataclass(frozen=True)
class Outcome:
    """The end of an attempt. `vendor` and `vendor_code` say whose answer
    decided it (an H5 session may end on Tencent's comparison)."""

    status: str  # passed | failed | error | expired
    reason: str
    vendor: str = ""
    vendor_code: str = ""
    retryable: bool = False
    scores: dict = field(default_factory=dict)
    images: tuple[Image, ...] = ()
    order_no: str = ""  # the vendor's order or task number, for reviewers' searches
    face_image_url: str = ""  # a face photo to fetch once the outcome is saved
    video: bytes = field(default=b"", repr=False)  # a video the vendor's own page recorded, kept as evidence

    def __post_init__(self):
        if self.status not in (PASSED, FAILED, ERROR, EXPIRED):
            raise ValueError(f"{self.status!r} is not an outcome")
        if self.status == PASSED and self.retryable:
            raise ValueError("a pass is final: it cannot be retryable")

    @classmethod
    def passed(cls, *, vendor: str, vendor_code="", **more) -> "Outcome":
        return cls(PASSED, "passed", vendor=vendor, vendor_code=str(vendor_code), **more)

    @classmethod
    def failed(cls, reason: str, *, vendor: str, vendor_code="", retryable: bool = True, **more) -> "Outcome":
        return cls(FAILED, reason, vendor=vendor, vendor_code=str(vendor_code), retryable=retryable, **more)


@dataclass(frozen=True)
class Pending:
    """A hosted-page check the vendor has no final answer for yet: asked
    again later. `reason` is what the person is told meanwhile."""

    reason: str  # awaiting_result | vendor_unavailable
    vendor_code: str = ""
