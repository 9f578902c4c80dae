"""Names and ID numbers are encrypted in the database, readable through the
ORM, findable by exact ID number through the keyed hash, and the migration
encrypts rows stored before it."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.support.factories import new_session
from verification.models import VerificationSession
from verification.platform import crypto
from verification.services.review import sessions_with_idcard as session_search_by_idcard

IDCARD = "11010519491231002X"
OTHER_IDCARD = "110105194912310029"
MIGRATION = ("verification", "0006_encrypt_identity")


def stored(session, column):
    """What the database holds in `column`, read past the ORM."""
    table = VerificationSession._meta.db_table
    pk = VerificationSession._meta.pk.get_db_prep_value(session.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {connection.ops.quote_name(column)} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def make_session(**kwargs):
    return new_session(method="tencent_idcard", external_ref="order-1", **kwargs)


@pytest.mark.django_db
def test_the_database_holds_neither_the_name_nor_the_id_number():
    session = make_session(realname="欧阳娜娜", idcard=IDCARD)

    name, number, search_hash = (stored(session, column) for column in ("realname", "idcard", "idcard_hash"))

    assert name.startswith("v1:test2:") and number.startswith("v1:test2:")
    for raw in (name, number, search_hash):
        assert "欧阳" not in raw and IDCARD not in raw and IDCARD[:17] not in raw
    # Not even a run of the ID number's digits shows through.
    for raw in (name, number):
        assert not any(IDCARD[i:i + 6] in raw for i in range(len(IDCARD) - 5))


@pytest.mark.django_db
def test_the_orm_reads_them_back():
    session = make_session(realname="张三", idcard=IDCARD)

    reread = VerificationSession.objects.get(pk=session.pk)

    assert (reread.realname, reread.idcard) == ("张三", IDCARD)
    assert (reread.masked_name, reread.masked_idcard) == ("张**", "**************002X")
    assert VerificationSession.objects.filter(pk=session.pk).values_list("idcard", flat=True).get() == IDCARD


@pytest.mark.django_db
def test_empty_stays_empty_and_can_be_filtered():
    session = make_session()

    assert [stored(session, column) for column in ("realname", "idcard", "idcard_hash")] == ["", "", ""]
    assert VerificationSession.objects.filter(idcard="").get() == session
    assert VerificationSession.objects.get(pk=session.pk).idcard == ""


@pytest.mark.django_db
def test_the_search_hash_follows_the_id_number():
    session = make_session(realname="张三", idcard=IDCARD)
    assert session.idcard_hash == crypto.search_hash(IDCARD)

    session.set_identity(realname="张三", idcard=OTHER_IDCARD)
    session.save(update_fields=["idcard", "idcard_hash"])
    assert stored(session, "idcard_hash") == crypto.search_hash(OTHER_IDCARD)

    # A purged ID number leaves its hash behind (retention keeps hashes).
    session.forget_identity()
    assert stored(session, "idcard") == ""
    assert stored(session, "idcard_hash") == crypto.search_hash(OTHER_IDCARD)


@pytest.mark.django_db
def test_an_undecryptable_value_raises_instead_of_showing_ciphertext():
    session = make_session(realname="张三", idcard=IDCARD)
    # Put the ID number's ciphertext in the name column: it must not decrypt there.
    table = VerificationSession._meta.db_table
    pk = VerificationSession._meta.pk.get_db_prep_value(session.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET realname = idcard WHERE id = %s", [pk])

    with pytest.raises(crypto.DecryptionError, match="realname.*'test2'"):
        VerificationSession.objects.get(pk=session.pk)


# --- search -------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("term", [IDCARD, IDCARD.lower(), f"  {IDCARD} "])
def test_search_finds_the_session_by_its_exact_id_number(term):
    session = make_session(realname="张三", idcard=IDCARD)
    make_session(realname="李四", idcard=OTHER_IDCARD)
    make_session()

    assert list(session_search_by_idcard(VerificationSession.objects.all(), term)) == [session]


@pytest.mark.django_db
@pytest.mark.parametrize("term", [IDCARD[:17], IDCARD[:6], "002X", "张三", "", IDCARD + "0"])
def test_search_finds_nothing_by_part_of_an_id_number(term):
    make_session(realname="张三", idcard=IDCARD)

    assert not session_search_by_idcard(VerificationSession.objects.all(), term).exists()


@pytest.mark.django_db
def test_search_keeps_the_queryset_it_was_given():
    session = make_session(realname="张三", idcard=IDCARD)

    assert not session_search_by_idcard(VerificationSession.objects.exclude(pk=session.pk), IDCARD).exists()


# --- the migration --------------------------------------------------------------


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_rows_stored_before_it_and_back():
    encrypted_before = make_session(realname="王五", idcard=OTHER_IDCARD)
    executor = MigrationExecutor(connection)
    previous = executor.loader.get_migration(*MIGRATION).dependencies
    latest = executor.loader.graph.leaf_nodes()

    old_apps = migrate(previous)
    # Migrating back decrypts, so the old varchar columns hold plaintext again.
    assert (stored(encrypted_before, "realname"), stored(encrypted_before, "idcard")) == ("王五", OTHER_IDCARD)
    OldSession = old_apps.get_model("verification", "VerificationSession")
    plaintext = OldSession.objects.create(method="h5", external_ref="before", realname="张三", idcard=IDCARD)
    OldSession.objects.create(method="h5", external_ref="no-identity")

    migrate(latest)

    assert stored(plaintext, "realname").startswith("v1:test2:")
    assert stored(plaintext, "idcard").startswith("v1:test2:")
    assert IDCARD not in stored(plaintext, "idcard")
    session = VerificationSession.objects.get(pk=plaintext.pk)
    assert (session.realname, session.idcard) == ("张三", IDCARD)
    assert session.idcard_hash == crypto.search_hash(IDCARD)
    assert VerificationSession.objects.get(pk=encrypted_before.pk).idcard == OTHER_IDCARD
    assert list(session_search_by_idcard(VerificationSession.objects.all(), IDCARD)) == [session]
    assert VerificationSession.objects.get(external_ref="no-identity").idcard_hash == ""
