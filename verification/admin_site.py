"""The portal's admin site: Django's, with throttled logins and the media
views (every file behind a permission check and an audit entry)."""

from pathlib import PurePosixPath

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from . import login_throttle, media
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

        urls = [path("verification/media/<str:kind>/<uuid:public_id>/", self.admin_view(media_view), name="verification_media")]
        return urls + admin_urls() + super().get_urls()


# --- media, behind a permission and an audit entry --------------------------------------

OBJECT_MEDIA = {
    "original": (Submission, "original"),
    "normalised": (Submission, "normalised"),
    "image": (SessionImage, "image"),
}
SESSION_MEDIA = {"face": "face_image", "reference": "reference_photo"}
# A media response is a document of its own when opened in a tab: no script
# may run in it whatever the file holds, and it may load only itself.
MEDIA_CSP = "default-src 'none'; media-src 'self'; img-src 'self'; sandbox"


def media_view(request, kind: str, public_id):
    """Streams one stored upload or vendor image to a user allowed to see
    media, found by its random public id (never a counting one)."""
    if not request.user.has_perm("verification.view_media"):
        raise PermissionDenied
    if kind not in OBJECT_MEDIA:
        raise Http404
    model, field = OBJECT_MEDIA[kind]
    owner = get_object_or_404(model.objects.select_related("session"), public_id=public_id)
    shown = f"{kind} {owner.public_id} {owner.kind} attempt {owner.attempt}"
    return _stream(request, getattr(owner, field), session=owner.session, name=f"{kind}-{owner.public_id}",
                   shown=shown)


def session_media_view(request, session_id, kind: str):
    if not request.user.has_perm("verification.view_media"):
        raise PermissionDenied
    if kind not in SESSION_MEDIA:
        raise Http404
    session = get_object_or_404(VerificationSession, pk=session_id)
    file_field = getattr(session, SESSION_MEDIA[kind])
    # The session has one face at a time: the file's own name says which.
    shown = f"{kind} {PurePosixPath(file_field.name).name}"
    return _stream(request, file_field, session=session, name=f"{kind}-{session.pk}", shown=shown)


def _stream(request, file_field, *, session, name: str, shown: str):
    """The file with the exact type of its stored format, or, for a file the
    format table does not know (an older version's `.html`), a download of
    opaque bytes. Faces and videos are personal data: never cached."""
    if not file_field:
        raise Http404
    audit_record(actor=request.user, action=AuditEntry.Action.VIEW_MEDIA, session=session, detail=shown)
    stored = media.stored_format(file_field.name)
    if stored is not None:
        response = FileResponse(file_field.open("rb"), content_type=stored.content_type,
                                filename=f"{name}.{stored.extension}")
    else:
        response = FileResponse(file_field.open("rb"), content_type="application/octet-stream",
                                as_attachment=True, filename=f"{name}.bin")
    response["Cache-Control"] = "no-store, private"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = MEDIA_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
