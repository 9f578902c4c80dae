"""Receiving one uploaded file: streamed to a temporary file on disk and
refused as soon as it passes the size limit, before any check reads it."""

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import reverse
from django.utils.translation import gettext as _

from ..services.uploads import session_submit_media
from .steps import end_user_error

UPLOAD_FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the small fields


class SizeLimitedUploadHandler(TemporaryFileUploadHandler):
    """Writes uploads straight to a temporary file and stops reading the
    request once more than `limit` bytes have arrived."""

    def __init__(self, request, *, limit: int):
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.exceeded = False

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.exceeded = True
            self.file.close()  # a NamedTemporaryFile: closing deletes it
            raise StopUpload(connection_reset=True)
        return super().receive_data_chunk(raw_data, start)


def receive_upload(request, session, *, kind: str):
    """The one file of field `kind`, handed to the service; 202 with where to
    follow the check."""
    limit = settings.KYC_UPLOAD_MAX_BYTES
    too_large = end_user_error(
        413, "too_large", _("The file is too large (at most %(mb)d MB). Record for about 6 seconds.") % {"mb": limit // 2**20}
    )
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit + UPLOAD_FORM_OVERHEAD:
        return too_large
    handler = SizeLimitedUploadHandler(request, limit=limit)
    request.upload_handlers = [handler]
    try:
        files = request.FILES.getlist(kind)
        capture = request.POST.get("capture", "")
        capture_report = request.POST.get("capture_report")
    except MultiPartParserError:
        return end_user_error(400, "bad_upload", _("The upload was not understood. Please try again."))
    if handler.exceeded:
        return too_large
    if len(request.FILES) != 1 or len(files) != 1:
        return end_user_error(400, "one_file", _("Send exactly one file, in the field %(field)s.") % {"field": kind})
    if files[0].size == 0:
        return end_user_error(400, "empty", _("The file is empty. Please record again."))
    session_submit_media(session=session, kind=kind, upload=files[0], capture=capture, capture_report=capture_report)
    return JsonResponse({"status_url": reverse("verification:status", args=[session.link_token])}, status=202)
