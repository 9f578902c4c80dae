"""Media served to staff: the exact type of the stored format from the one
table, no sniffing, a policy that lets no script run, the portal's own file
name, random ids in every URL, the permission and the audit entry.

Files an older version stored under the client's extension (`.html`, `.svg`,
`.xhtml`) are written here directly, markup and all, so the serving side is
attacked, not only the upload side.

Personas: rita reviews (group reviewers); vera may review but not see media;
oscar is staff with no group."""

import re
import uuid

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.files.base import ContentFile
from django.urls import reverse

from tests.support.media_samples import make_jpeg, make_png
from tests.support.factories import new_session
from verification import media
from verification.backoffice.media import MEDIA_CSP
from verification.models import AuditEntry, SessionImage, Submission

pytestmark = pytest.mark.django_db

MARKUP = b"<html><body><script>document.title='pwned';window.name='pwned'</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>document.title="pwned"</script></svg>'
XHTML = b'<html xmlns="http://www.w3.org/1999/xhtml"><script>document.title="pwned"</script></html>'
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


@pytest.fixture
def rita():
    user = User.objects.create_user("rita", password="pw-rita-123", is_staff=True)
    user.groups.add(Group.objects.get(name="reviewers"))
    return user


@pytest.fixture
def vera():
    """May open and decide sessions, but not play their media."""
    user = User.objects.create_user("vera", password="pw-vera-123", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_verificationsession", "review_session"])
    )
    return user


@pytest.fixture
def session(settings, tmp_path):
    """A session holding one file of each route, named as the portal names them."""
    settings.MEDIA_ROOT = tmp_path
    found = new_session(method="tencent_lip", external_ref="order-42", status="passed",
                                               attempts_used=2)
    found.face_image.save(media.stored_name("jpeg"), ContentFile(make_jpeg()), save=False)
    found.reference_photo.save(media.stored_name("png"), ContentFile(make_png()), save=False)
    found.save()
    submission = Submission(session=found, attempt=1, kind="video", capture="recorder", content_sha256="a" * 64)
    submission.original.save(media.stored_name("webm"), ContentFile(b"\x1aE\xdf\xa3webm"), save=False)
    submission.normalised.save(media.stored_name("mp4"), ContentFile(MP4_HEAD), save=False)
    submission.save()
    SessionImage.objects.create(session=found, attempt=1, kind="best_frame",
                                image=ContentFile(make_png(), name=media.stored_name("png")))
    return found


def legacy_session():
    """What an older version could have left: the client's extensions, markup inside."""
    found = new_session(method="tencent_photo", external_ref="legacy", status="passed")
    found.face_image.save("x.xhtml", ContentFile(XHTML), save=False)
    found.reference_photo.save("x.html", ContentFile(MARKUP), save=False)
    found.save()
    Submission.objects.create(session=found, attempt=1, kind="photo", capture="file", content_sha256="b" * 64,
                              original=ContentFile(MARKUP, name="x.html"))
    SessionImage.objects.create(session=found, attempt=1, kind="vendor_photo", image=ContentFile(SVG, name="x.svg"))
    return found


def routes(session):
    """(url, kind, public id in the name) of every media route of `session`."""
    submission, image = session.submissions.get(), session.images.get()
    object_media = [("original", submission), ("image", image)]
    if submission.normalised:
        object_media.append(("normalised", submission))
    return [
        *[(reverse("admin:verification_media", args=[kind, owner.public_id]), kind, owner.public_id)
          for kind, owner in object_media],
        *[(reverse("admin:verification_session_media", args=[session.pk, kind]), kind, session.pk)
          for kind in ("face", "reference")],
    ]


def get_media(client, url):
    response = client.get(url)
    body = b"".join(response.streaming_content) if response.status_code == 200 else b""
    return response, body


# --- headers -----------------------------------------------------------------------------


def test_every_route_serves_the_exact_type_of_the_stored_format_inline(client, rita, session):
    client.force_login(rita)
    expected = {"original": ("video/webm", "webm"), "normalised": ("video/mp4", "mp4"), "image": ("image/png", "png"),
                "face": ("image/jpeg", "jpg"), "reference": ("image/png", "png")}

    for url, kind, public_id in routes(session):
        response, body = get_media(client, url)

        content_type, extension = expected[kind]
        assert response.status_code == 200 and body, url
        assert response["Content-Type"] == content_type, url
        assert response["Content-Disposition"] == f'inline; filename="{kind}-{public_id}.{extension}"'
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"] == "default-src 'none'; media-src 'self'; img-src 'self'; sandbox"
        assert "no-store" in response["Cache-Control"]
    assert len(routes(session)) == 5


def test_files_an_older_version_kept_under_the_clients_extension_are_opaque_downloads(client, rita, db, settings,
                                                                                       tmp_path):
    settings.MEDIA_ROOT = tmp_path
    legacy = legacy_session()
    client.force_login(rita)

    for url, kind, public_id in routes(legacy):
        response, body = get_media(client, url)

        assert response.status_code == 200 and b"<script>" in body, url
        assert response["Content-Type"] == "application/octet-stream", url
        assert response["Content-Disposition"] == f'attachment; filename="{kind}-{public_id}.bin"'
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"] == MEDIA_CSP


def test_the_download_name_is_the_portals_whatever_the_stored_name_holds(client, rita, session, settings):
    """A stored name with quotes, a header break and a path would end the
    header's filename early; the portal's own name never holds any of it."""
    submission = session.submissions.get()
    hostile = 'originals/a";\r\nfilename=..%2f..%2fevil.html;x=".webm'
    (settings.MEDIA_ROOT / hostile).parent.mkdir(parents=True, exist_ok=True)
    (settings.MEDIA_ROOT / hostile).write_bytes(MARKUP)
    Submission.objects.filter(pk=submission.pk).update(original=hostile)
    client.force_login(rita)

    response, _ = get_media(client, reverse("admin:verification_media", args=["original", submission.public_id]))

    disposition = response["Content-Disposition"]
    assert disposition == f'inline; filename="original-{submission.public_id}.webm"'
    assert re.fullmatch(r'inline; filename="[a-z]+-[0-9a-f-]{36}\.[a-z0-9]+"', disposition)


# --- ids nobody can guess ------------------------------------------------------------------


def test_a_counting_id_in_a_media_url_is_not_found(client, rita, session):
    client.force_login(rita)
    submission, image = session.submissions.get(), session.images.get()

    for kind, pk in [("original", submission.pk), ("normalised", submission.pk), ("image", image.pk),
                     ("original", 1), ("image", 1), ("image", 2)]:
        assert client.get(f"/admin/verification/media/{kind}/{pk}/").status_code == 404, (kind, pk)
    for kind in ("original", "normalised", "image"):
        assert client.get(reverse("admin:verification_media", args=[kind, uuid.uuid4()])).status_code == 404
    assert not AuditEntry.objects.filter(action="view_media").exists()


def test_a_public_id_of_one_kind_opens_nothing_under_another(client, rita, session):
    client.force_login(rita)
    image = session.images.get()
    assert client.get(reverse("admin:verification_media", args=["original", image.public_id])).status_code == 404


def test_every_submission_and_image_has_its_own_random_public_id(session):
    other = Submission.objects.create(session=session, attempt=2, kind="video", capture="file", content_sha256="c" * 64,
                                      original=ContentFile(MP4_HEAD, name=media.stored_name("mp4")))
    ids = [session.submissions.get(attempt=1).public_id, other.public_id, session.images.get().public_id]
    assert len(set(ids)) == 3 and all(i.version == 4 for i in ids)


def test_the_evidence_page_links_media_by_public_id_only(client, rita, session):
    client.force_login(rita)
    page = client.get(reverse("admin:verification_verificationsession_change", args=[session.pk])).text

    linked = set(re.findall(r'src="(/admin/verification/media/[^"?]+)[?"]', page))
    submission, image = session.submissions.get(), session.images.get()
    assert linked == {
        f"/admin/verification/media/original/{submission.public_id}/",
        f"/admin/verification/media/normalised/{submission.public_id}/",
        f"/admin/verification/media/image/{image.public_id}/",
    }


# --- who may see, and the trail ---------------------------------------------------------------


def test_a_reviewer_without_view_media_gets_403_everywhere_and_no_links(client, vera, session):
    client.force_login(vera)

    for url, _kind, _id in routes(session):
        assert client.get(url).status_code == 403, url
    page = client.get(reverse("admin:verification_verificationsession_change", args=[session.pk])).text
    assert "/media/" not in page
    assert not AuditEntry.objects.filter(action="view_media").exists()


def test_each_view_is_audited_with_which_media_was_shown(client, rita, session):
    client.force_login(rita)
    submission, image = session.submissions.get(), session.images.get()

    for url, _kind, _id in routes(session):
        get_media(client, url)

    details = set(AuditEntry.objects.filter(action="view_media", actor_name="rita", session_ref=session.pk)
                  .values_list("detail", flat=True))
    assert details == {
        f"original {submission.public_id} video attempt 1",
        f"normalised {submission.public_id} video attempt 1",
        f"image {image.public_id} best_frame attempt 1",
        f"face {session.face_image.name.rsplit('/', 1)[1]}",
        f"reference {session.reference_photo.name.rsplit('/', 1)[1]}",
    }
