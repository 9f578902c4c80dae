"""The audit log is append-only in the database, not only in the model and
the admin: on PostgreSQL a trigger refuses UPDATE and DELETE of its rows,
sent by the ORM or by hand. SQLite (development and tests) has no trigger."""

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from verification.models import AuditEntry

pytestmark = pytest.mark.django_db

TABLE = AuditEntry._meta.db_table
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the trigger is PostgreSQL's: Django flushes SQLite tables between tests with DELETE, which one would refuse",
)


@pytest.fixture
def entry():
    boss = User.objects.create_user("boss", password="pw-boss-123", is_staff=True)
    return AuditEntry.objects.create(actor=boss, actor_name="boss", action="view_identity", detail="original")


def refused(sql, params=()) -> bool:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError as error:
        assert "append-only" in str(error)
        return True
    return False


@on_postgresql
def test_raw_sql_can_neither_change_nor_delete_an_entry(entry):
    assert refused(f"UPDATE {TABLE} SET detail = 'rewritten' WHERE id = %s", [entry.pk])
    assert refused(f"UPDATE {TABLE} SET actor_name = 'someone else'")
    assert refused(f"DELETE FROM {TABLE} WHERE id = %s", [entry.pk])
    assert refused(f"DELETE FROM {TABLE}")
    assert AuditEntry.objects.get(pk=entry.pk).detail == "original"


@on_postgresql
def test_bulk_orm_writes_that_skip_the_model_are_refused_too(entry):
    for write in (lambda: AuditEntry.objects.all().delete(), lambda: AuditEntry.objects.update(detail="x")):
        with pytest.raises(DatabaseError), transaction.atomic():
            write()
    assert AuditEntry.objects.get(pk=entry.pk).detail == "original"


@on_postgresql
def test_clearing_the_actor_and_changing_more_is_refused(entry):
    assert refused(f"UPDATE {TABLE} SET actor_id = NULL, detail = 'gone' WHERE id = %s", [entry.pk])


def test_deleting_a_staff_user_keeps_their_entries(entry):
    """on_delete=SET_NULL updates the rows: the one update the trigger allows."""
    User.objects.get(username="boss").delete()

    kept = AuditEntry.objects.get(pk=entry.pk)
    assert (kept.actor, kept.actor_name, kept.detail) == (None, "boss", "original")


@on_postgresql
def test_the_migration_puts_the_trigger_on_and_takes_it_off():
    """Inside the test's transaction (PostgreSQL's DDL is transactional), so
    no flush afterwards takes the rows the migrations made from later tests."""
    entry = AuditEntry.objects.create(actor_name="system", action="purge")
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([("verification", "0009_handoffs")])
        AuditEntry.objects.filter(pk=entry.pk).update(detail="allowed without the trigger")
    finally:
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes("verification"))
    assert refused(f"UPDATE {TABLE} SET detail = 'refused again' WHERE id = %s", [entry.pk])

