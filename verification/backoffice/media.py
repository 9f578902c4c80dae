"""Media shown to staff, each behind the `view_media` permission and an
audit entry naming what was shown. Files are typed by what they are
(media.STORED_FORMATS) and served so that nothing in them can run."""

from pathlib import PurePosixPath

from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404

from .. import media
from ..models import AuditEntry, SessionImage, Submission, VerificationSession

OBJECT_MEDIA = {
    "original": (Submission, "original"),
    "normalised": (Submission, "normalised"),
    "image": (SessionImage, "image"),
}
SESSION_MEDIA = {"face": "face_image", "reference": "reference_photo"}
# A media response is a document of its own when opened in a tab: no script
# may run in it whatever the file holds, and it may load only itself.
MEDIA_CSP = "default-src 'none'; media-src 'self'; img-src 'self'; sandbox"

# The case page writes one audit entry naming every medium it shows, and
# signs its media links with this: a medium fetched through such a link, by
# the same user, for the same session, within the hour, is already in that
# entry. Any other fetch writes its own entry.
CASE_VIEW_SALT = "verification.backoffice.media.case_view"
CASE_VIEW_SECONDS = 3600


def case_view_token(*, user, session) -> str:
    return signing.dumps([user.pk, str(session.pk)], salt=CASE_VIEW_SALT, compress=True)


def _shown_on_the_case_page(request, session) -> bool:
    token = request.GET.get("case_view", "")
    if not token:
        return False
    try:
        user_pk, session_pk = signing.loads(token, salt=CASE_VIEW_SALT, max_age=CASE_VIEW_SECONDS)
    except (signing.BadSignature, ValueError, TypeError):
        return False
    return user_pk == request.user.pk and session_pk == str(session.pk)


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
    if not _shown_on_the_case_page(request, session):
        AuditEntry.record(actor=request.user, action=AuditEntry.Action.VIEW_MEDIA, session=session, detail=shown)
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
