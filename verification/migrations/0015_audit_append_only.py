"""The audit log is append-only in the database too: on PostgreSQL a
trigger refuses UPDATE and DELETE of its rows, whoever sends them (a bug,
a raw query, a shell on a web process). One update stays possible: deleting
a staff user sets `actor` to NULL (on_delete=SET_NULL), which changes
nothing else; `actor_name` keeps who it was.

TRUNCATE fires no row trigger, so the table can still be emptied whole;
Django's test runner flushes tables between transactional tests that way,
so no TRUNCATE trigger is added (docs/security-notes/admin-identity.md).
SQLite gets no trigger: Django flushes SQLite tables with DELETE, and
SQLite is for development and tests only."""

from django.db import migrations, models

CREATE = """
CREATE FUNCTION verification_auditentry_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.actor_id IS NOT NULL AND NEW.actor_id IS NULL
            AND to_jsonb(NEW) - 'actor_id' = to_jsonb(OLD) - 'actor_id' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: % of verification_auditentry refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER verification_auditentry_append_only
    BEFORE UPDATE OR DELETE ON verification_auditentry
    FOR EACH ROW EXECUTE FUNCTION verification_auditentry_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS verification_auditentry_append_only ON verification_auditentry;
DROP FUNCTION IF EXISTS verification_auditentry_append_only();
"""


def on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ('verification', '0014_h5_result_polling'),
    ]

    operations = [
        migrations.AlterField(
            model_name='auditentry',
            name='action',
            field=models.CharField(choices=[('view_session', 'Viewed a session'), ('view_identity', 'Viewed full name and ID number'), ('view_media', 'Viewed media'), ('decide', 'Decided'), ('export', 'Exported'), ('purge', 'Purged personal data'), ('erase', 'Erased on request'), ('search_identity', 'Searched by ID number'), ('search_refused', 'Refused a search by ID number')], db_index=True, max_length=20),
        ),
        migrations.RunPython(on_postgresql(CREATE), on_postgresql(DROP)),
    ]
