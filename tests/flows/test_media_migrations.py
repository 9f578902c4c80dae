"""The migrations behind random media ids and cut URLs, run over rows an
older version left: every submission and image gets its own public id, and
kept vendor URLs are cut to their host."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def before_public_ids():
    """What the public-id migration follows (found by name: numbers change in merges)."""
    loader = MigrationExecutor(connection).loader
    key = next(k for k in loader.disk_migrations if k[0] == "verification" and k[1].endswith("_media_public_ids"))
    return loader.disk_migrations[key].dependencies


def test_existing_rows_get_distinct_public_ids_and_lose_their_urls():
    old = migrate(before_public_ids())
    Session = old.get_model("verification", "VerificationSession")
    session = Session.objects.create(method="tencent_lip", external_ref="old", link_token="t" * 43)
    for attempt in (1, 2, 3):
        old.get_model("verification", "Submission").objects.create(
            session=session, attempt=attempt, kind="video", capture="file", content_sha256=f"{attempt}" * 64,
            original=f"originals/{attempt}.html")
        old.get_model("verification", "SessionImage").objects.create(
            session=session, attempt=attempt, kind="best_frame", image=f"images/{attempt}.jpg")
    old.get_model("verification", "VendorCall").objects.create(
        session=session, vendor="jumdata", endpoint="result",
        response_summary={"data": {"faceImageUrl": "https://oss.example.com/f/1.jpg?Signature=x"}})

    new = migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    for model in ("Submission", "SessionImage"):
        ids = list(new.get_model("verification", model).objects.values_list("public_id", flat=True))
        assert len(ids) == 3 and None not in ids and len(set(ids)) == 3, model
    call = new.get_model("verification", "VendorCall").objects.get()
    assert call.response_summary == {"data": {"faceImageUrl": "https://oss.example.com/…"}}
