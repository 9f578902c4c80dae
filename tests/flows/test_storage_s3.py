"""Media in S3-compatible object storage (MEDIA_STORAGE=s3, django-storages),
against a real S3 server started here (moto in server mode, over HTTP): a
recorded flow stores, normalises and sends from the bucket, staff stream the
video from it, retention deletes from it, and /readyz watches it."""

import time

import boto3
import pytest
from django.contrib.auth.models import Permission, User
from moto.server import ThreadedMotoServer

from tests.conftest import run_due_tasks
from tests.support.http_double import free_port
from tests.flows.test_recorded_flow import clips, consented, upload, vendors  # noqa: F401  (fixtures)
from verification.models import Submission
from verification.platform.health import HEARTBEAT_KEY
from verification.services.retention import session_purge_media

pytestmark = pytest.mark.django_db(transaction=True)

BUCKET = "kyc-media-test"


@pytest.fixture(scope="module")
def s3_server():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_server, settings, tmp_path):
    """The portal's media in a fresh bucket of the S3 server; MEDIA_ROOT
    points at an empty folder that must stay empty."""
    s3 = boto3.resource(
        "s3", endpoint_url=s3_server, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    store = s3.create_bucket(Bucket=BUCKET)
    settings.MEDIA_ROOT = tmp_path / "unused-media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET, "endpoint_url": s3_server, "region_name": "us-east-1",
                "access_key": "test", "secret_key": "test", "default_acl": "private", "file_overwrite": False,
                "object_parameters": {"ServerSideEncryption": "AES256"},
            },
        },
    }
    yield store
    store.objects.all().delete()
    store.delete()


def keys(store):
    return sorted(obj.key for obj in store.objects.all())


def test_a_recorded_flow_keeps_its_media_in_the_bucket_only(vendors, bucket, client, clips, settings):  # noqa: F811
    session = consented(client, "tencent_lip")
    client.post(f"/v/{session.link_token}/challenge")

    assert upload(client, session, clips["webm"]).status_code == 202
    run_due_tasks()

    session.refresh_from_db()
    assert session.status == "passed"
    submission = Submission.objects.get()
    stored = keys(bucket)
    assert submission.original.name in stored and submission.normalised.name in stored
    assert bucket.Object(submission.normalised.name).get()["Body"].read()[4:8] == b"ftyp"
    assert bucket.Object(submission.original.name).server_side_encryption == "AES256"
    assert not settings.MEDIA_ROOT.exists()


def test_staff_stream_a_video_from_the_bucket(vendors, bucket, client, clips):  # noqa: F811
    session = consented(client, "tencent_lip")
    client.post(f"/v/{session.link_token}/challenge")
    upload(client, session, clips["webm"])
    run_due_tasks()
    submission = Submission.objects.get()
    reviewer = User.objects.create_user("rita", password="x", is_staff=True)
    reviewer.user_permissions.set(Permission.objects.filter(codename__in=["view_verificationsession", "view_media"]))
    client.force_login(reviewer)

    response = client.get(f"/admin/verification/media/normalised/{submission.public_id}/")

    assert response.status_code == 200, response
    assert b"".join(response.streaming_content)[4:8] == b"ftyp"
    assert response["Content-Type"] == "video/mp4"


def test_retention_deletes_the_objects(vendors, bucket, client, clips):  # noqa: F811
    session = consented(client, "tencent_lip")
    client.post(f"/v/{session.link_token}/challenge")
    upload(client, session, clips["webm"])
    run_due_tasks()
    assert keys(bucket)

    session_purge_media(session=session)

    assert keys(bucket) == []


def test_readyz_sees_the_bucket(bucket, client, s3_server, settings):
    from django.core.cache import cache

    cache.set(HEARTBEAT_KEY, time.time(), timeout=None)
    assert client.get("/readyz").json()["checks"]["storage"] == "ok"

    settings.STORAGES["default"]["OPTIONS"]["endpoint_url"] = "http://127.0.0.1:9"
    settings.STORAGES = dict(settings.STORAGES)  # tell Django the storages changed

    assert client.get("/readyz").json()["checks"]["storage"].startswith("unreachable")
