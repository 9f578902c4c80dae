"""The portal's admin site: Django's, with throttled logins and the media
views (every file behind a permission check and an audit entry)."""

import mimetypes

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from . import login_throttle
from .audit import audit_record
from .models import AuditEntry, SessionImage, Submission, VerificationSession


class KycAdminSite(admin.AdminSite):
    site_header = _("KYC liveness portal — back office")
    site_title = _("KYC back office")
    index_title = _("Review and oversight")

    def login(self, request, extra_context=None):
        """Refuses to even check a password once an account or an address has
        failed too often (login_throttle counts the failures)."""
        if request.method == "POST":
            refusal = login_throttle.refusal(request)
            if refusal:
                context = {**self.each_context(request), "title": _("Log in"), "app_path": request.get_full_path(),
                           "username": request.POST.get("username", ""), "throttled": refusal}
                return TemplateResponse(request, "admin/login_throttled.html", context, status=429)
        return super().login(request, extra_context)

    def get_urls(self):
        from .admin_views import admin_urls

        urls = [path("verification/media/<str:kind>/<int:pk>/", self.admin_view(media_view), name="verification_media")]
        return urls + admin_urls() + super().get_urls()


# --- media, behind a permission and an audit entry --------------------------------------

OBJECT_MEDIA = {
    "original": (Submission, "original"),
    "normalised": (Submission, "normalised"),
    "image": (SessionImage, "image"),
}
SESSION_MEDIA = {"face": "face_image", "reference": "reference_photo"}


def media_view(request, kind: str, pk: int):
    """Streams one stored upload or vendor image to a user allowed to see
    media. Faces and videos are personal data: no caching, no sniffing."""
    if not request.user.has_perm("verification.view_media"):
        raise PermissionDenied
    if kind not in OBJECT_MEDIA:
        raise Http404
    model, field = OBJECT_MEDIA[kind]
    owner = get_object_or_404(model, pk=pk)
    return _stream(request, getattr(owner, field), session=owner.session, kind=kind)


def session_media_view(request, session_id, kind: str):
    if not request.user.has_perm("verification.view_media"):
        raise PermissionDenied
    if kind not in SESSION_MEDIA:
        raise Http404
    session = get_object_or_404(VerificationSession, pk=session_id)
    return _stream(request, getattr(session, SESSION_MEDIA[kind]), session=session, kind=kind)


def _stream(request, file_field, *, session, kind):
    if not file_field:
        raise Http404
    audit_record(actor=request.user, action=AuditEntry.Action.VIEW_MEDIA, session=session, detail=kind)
    content_type = mimetypes.guess_type(file_field.name)[0] or "application/octet-stream"
    response = FileResponse(file_field.open("rb"), content_type=content_type)
    response["Cache-Control"] = "no-store, private"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    return response
