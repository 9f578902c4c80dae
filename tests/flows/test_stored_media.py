"""Every stored file is named, and later served, by what it is: the probed
container or image format, through the one table in verification/media.py.
The client's file name and declared type never reach storage, and what is
not a format of that table is refused, or not kept at all when a vendor sent it.

The attacker's uploads: markup named `x.html`, `x.svg`, `x.xhtml` and sent as
text/html; a real video named `x.html` with markup after its last atom; a
video in a container the portal does not keep."""

import base64
import json
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.conftest import run_due_tasks
from tests.support.http_double import HttpDouble
from tests.support.media_samples import make_jpeg, make_png, make_video
from tests.support.factories import challenge_shown_ago, new_session
from verification import media
from verification.models import SessionImage, Submission, VendorCall, VerificationSession

pytestmark = pytest.mark.django_db(transaction=True)

IDCARD = "11010519491231002X"
MARKUP = b"<html><body><script>document.title='pwned'</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>document.title="pwned"</script></svg>'
XHTML = b'<html xmlns="http://www.w3.org/1999/xhtml"><script>document.title="pwned"</script></html>'


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stored-media")
    phone = make_video(folder / "phone.mp4")
    return {
        "mp4": phone,
        "mp4_with_markup": _written(folder / "poly.mp4", phone.read_bytes() + MARKUP),
        "webm": make_video(folder / "r.webm", container="webm", video_codec="libvpx-vp9", audio_codec="libopus"),
        "mov": make_video(folder / "r.mov", container="mov"),
        "mkv": make_video(folder / "r.mkv", container="mkv"),
        "avi": make_video(folder / "r.avi", container="avi"),
        "flv": make_video(folder / "r.flv", container="flv"),
    }


def _written(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def consented(client, method, **kwargs):
    session = new_session(method=method, external_ref="r", **kwargs)
    client.post(f"/v/{session.link_token}/consent")
    client.post(f"/v/{session.link_token}/challenge")
    return session


def upload(client, session, content: bytes, *, name: str, content_type: str, field="video"):
    challenge_shown_ago(session)
    return client.post(
        f"/v/{session.link_token}/{field}",
        {field: SimpleUploadedFile(name, content, content_type=content_type), "capture": "file"},
    )


def stored_files(settings) -> list[Path]:
    return [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def served_type(client, submission) -> str:
    reviewer = User.objects.create_user("rita", is_staff=True)
    reviewer.user_permissions.set(Permission.objects.filter(codename__in=["view_verificationsession", "view_media"]))
    client.force_login(reviewer)
    response = client.get(reverse("admin:verification_media", args=["original", submission.public_id]))
    b"".join(response.streaming_content)
    return response["Content-Type"]


# --- uploads --------------------------------------------------------------------------------


@pytest.mark.parametrize("name, content, content_type", [
    ("x.html", MARKUP, "text/html"),
    ("x.svg", SVG, "image/svg+xml"),
    ("x.xhtml", XHTML, "application/xhtml+xml"),
])
@pytest.mark.parametrize("method, field, code", [("tencent_lip", "video", "not_a_video"),
                                                 ("tencent_photo", "photo", "not_an_image")])
def test_markup_is_refused_and_nothing_is_stored(sandbox, client, settings, name, content, content_type, method,
                                                  field, code):
    session = consented(client, method)

    response = upload(client, session, content, name=name, content_type=content_type, field=field)

    # FFmpeg reads an SVG as a picture it cannot decode, and HTML as nothing.
    assert response.status_code == 415 and response.json()["error"]["code"] in (code, "unreadable")
    assert not Submission.objects.exists() and stored_files(settings) == []


@pytest.mark.parametrize("clip, name, extension, content_type", [
    ("mp4_with_markup", "x.html", "mp4", "video/mp4"),
    ("webm", "x.xhtml", "webm", "video/webm"),
    ("mov", "x.svg", "mov", "video/quicktime"),
    ("mkv", "recording.mp4", "mkv", "video/x-matroska"),
])
def test_a_video_is_stored_and_served_as_what_it_is_whatever_its_name(sandbox, client, clips, clip, name,
                                                                       extension, content_type):
    session = consented(client, "tencent_lip")

    response = upload(client, session, clips[clip].read_bytes(), name=name, content_type="text/html")

    assert response.status_code == 202, response.content
    submission = Submission.objects.get()
    assert Path(submission.original.name).suffix == f".{extension}"
    assert Path(submission.original.name).stem != Path(name).stem
    assert served_type(client, submission) == content_type


def test_a_photo_named_svg_is_stored_as_the_jpeg_it_is(sandbox, client):
    session = consented(client, "tencent_photo")

    response = upload(client, session, make_jpeg(), name="x.svg", content_type="image/svg+xml", field="photo")

    assert response.status_code == 202, response.content
    submission = Submission.objects.get()
    assert submission.original.name.endswith(".jpg") and submission.facts["format"] == "jpeg"
    assert served_type(client, submission) == "image/jpeg"


@pytest.mark.parametrize("clip", ["avi", "flv"])
def test_a_container_the_portal_does_not_keep_is_refused_before_anything_is_stored(sandbox, client, settings, clips,
                                                                                    clip):
    session = consented(client, "tencent_lip")
    calls_before = VendorCall.objects.count()

    response = upload(client, session, clips[clip].read_bytes(), name="x.mp4", content_type="video/mp4")

    assert (response.status_code, response.json()["error"]["code"]) == (415, "unsupported_format")
    assert not Submission.objects.exists() and stored_files(settings) == []
    assert VendorCall.objects.count() == calls_before  # the lip code only: nothing was sent


def test_the_normalised_video_is_stored_as_mp4(sandbox, client, clips):
    session = consented(client, "tencent_lip")
    upload(client, session, clips["webm"].read_bytes(), name="x.html", content_type="text/html")

    run_due_tasks()

    submission = Submission.objects.get()
    assert submission.normalised.name.endswith(".mp4") and submission.original.name.endswith(".webm")


# --- what the portal and vendors hand over -----------------------------------------------


@pytest.mark.parametrize("photo, extension", [(make_png(), ".png"), (make_jpeg(), ".jpg")])
def test_a_reference_photo_is_named_by_its_format(alice, client, photo, extension):
    response = client.post(
        "/api/v1/sessions",
        {"method": "tencent_lip", "external_ref": "r", "reference_photo": base64.b64encode(photo).decode()},
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {alice.key}",
    )

    assert response.status_code == 201, response.content
    assert VerificationSession.objects.get().reference_photo.name.endswith(extension)


def tencent_answering(photo: bytes):
    """Tencent, played by a double: a lip code, then a pass whose
    `video_photo` is `photo`."""
    answers = {
        "/face/livegetfour": {"code": 0, "data": {"validate_data": "1234"}},
        "/face/idcardlivedetectfour": {"code": 0, "data": {
            "live_status": 0, "compare_status": 0, "sim": 95, "video_photo": base64.b64encode(photo).decode()}},
    }
    return lambda request: (200, {"Content-Type": "application/json"}, json.dumps(answers[request.path]).encode())


@pytest.mark.parametrize("photo, kept_as", [(SVG, None), (MARKUP, None), (make_jpeg(), ".jpg"), (make_png(), ".png")])
def test_a_vendor_photo_is_kept_only_as_the_image_it_is(sandbox, client, settings, clips, photo, kept_as):
    with HttpDouble() as tencent:
        tencent.respond = tencent_answering(photo)
        settings.TENCENT_BASE_URL = tencent.url
        session = consented(client, "tencent_idcard", realname="张三", idcard=IDCARD)
        upload(client, session, clips["mp4"].read_bytes(), name="x.mp4", content_type="video/mp4")
        run_due_tasks()

    session.refresh_from_db()
    assert session.status == "passed"  # the verdict stands either way
    images = list(SessionImage.objects.values_list("image", flat=True))
    if kept_as is None:
        assert images == [] and not session.face_image
    else:
        assert [Path(name).suffix for name in images] == [kept_as] and session.face_image.name.endswith(kept_as)


def test_the_table_names_each_format_once(settings):
    extensions = [f.extension for f in media.STORED_FORMATS.values()]
    assert len(set(extensions)) == len(extensions)
    for name, stored in media.STORED_FORMATS.items():
        assert media.stored_format(media.stored_name(name)) == stored
    for name in ("x.html", "x.svg", "x.xhtml", "x.htm", "x.JPG", "x", "x.jpg.html"):
        assert media.stored_format(name) is None, name


@pytest.mark.parametrize("brand, container", [
    (b"isom", "mp4"), (b"mp42", "mp4"), (b"iso5", "mp4"), (b"qt  ", "mov"), (b"3gp4", "3gp"),
    (b"3g2a", "mov,mp4,m4a,3gp,3g2,mj2"),  # 3GPP2: FFmpeg's demuxer name, which the table does not know
])
def test_an_iso_media_file_is_named_by_its_ftyp_brand(clips, tmp_path, brand, container):
    content = bytearray(clips["mp4"].read_bytes())
    assert content[4:8] == b"ftyp"
    content[8:12] = brand

    facts = media.probe_video(_written(tmp_path / "clip.html", bytes(content)))

    assert facts.container == container


@pytest.mark.parametrize("clip, container", [("webm", "webm"), ("mkv", "matroska"), ("mov", "mov"), ("avi", "avi")])
def test_a_video_is_named_by_its_own_header_not_its_name(clips, tmp_path, clip, container):
    misnamed = _written(tmp_path / "x.svg", clips[clip].read_bytes())
    assert media.probe_video(misnamed).container == container
