"""Vendor calls as rows: what a vendor client reports of each call it made
on a session's behalf becomes a VendorCall, kept whatever happened, so
spend and failures can be traced."""

import logging
import time

from django.db import DatabaseError, InterfaceError, connection

from ..models import VendorCall
from ..vendors.transport import Recorder, VendorCallRecord

logger = logging.getLogger(__name__)

# A call's record waits this long for a database that went away (a
# restart): the call was made, perhaps billed, and its answer is on its way
# to being recorded; an error here would throw the answer away.
RECORD_FOR_SECONDS = 20


def recorder_for(session) -> Recorder:
    """The recorder a method hands its vendor client for `session`'s calls."""

    def record(call: VendorCallRecord) -> None:
        deadline = time.monotonic() + RECORD_FOR_SECONDS
        while True:
            try:
                return _create(call)
            except (DatabaseError, InterfaceError) as error:
                if time.monotonic() > deadline or connection.in_atomic_block:
                    raise
                logger.warning("session=%s vendor call not recorded yet (%s): trying again", session.pk,
                               type(error).__name__)
                connection.close()
                time.sleep(1)

    def _create(call: VendorCallRecord) -> None:
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
