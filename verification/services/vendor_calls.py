"""Vendor calls as rows: what a vendor client reports of each call it made
on a session's behalf becomes a VendorCall, kept whatever happened, so
spend and failures can be traced."""

from ..models import VendorCall
from ..vendors.transport import Recorder, VendorCallRecord


def recorder_for(session) -> Recorder:
    """The recorder a method hands its vendor client for `session`'s calls."""

    def record(call: VendorCallRecord) -> None:
        VendorCall.objects.create(
            session=session,
            vendor=call.vendor,
            endpoint=call.endpoint,
            http_status=call.http_status,
            vendor_code=call.vendor_code,
            billed=call.billed,
            request_id=call.request_id[:64],
            error=call.error[:255],
            latency_ms=call.latency_ms,
            request_summary=call.request_summary,
            response_summary=call.response_summary,
        )

    return record
