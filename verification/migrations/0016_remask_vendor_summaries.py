"""Vendor-call summaries stored before the stricter masks showed the region
code of an ID number (`110105********002X`) and half of a two-character
name (`张*`): they are masked again as they would be today
(`**************002X`, `张**`). Redaction is idempotent on what it already
redacted, so every summary can go through it once more. Cannot be undone."""

from django.db import migrations

BATCH = 500


def remask(apps, schema_editor):
    from verification.vendors.base import redact

    VendorCall = apps.get_model("verification", "VendorCall")
    calls = VendorCall.objects.only("pk", "request_summary", "response_summary").order_by("pk")
    last_pk = 0
    # One batch at a time by primary key: no cursor stays open over the
    # table while it is written (SQLite would not keep them apart).
    while batch := list(calls.filter(pk__gt=last_pk)[:BATCH]):
        last_pk = batch[-1].pk
        changed = []
        for call in batch:
            request_summary, response_summary = redact(call.request_summary), redact(call.response_summary)
            if (request_summary, response_summary) != (call.request_summary, call.response_summary):
                call.request_summary, call.response_summary = request_summary, response_summary
                changed.append(call)
        VendorCall.objects.bulk_update(changed, ["request_summary", "response_summary"])


class Migration(migrations.Migration):

    dependencies = [
        ('verification', '0015_audit_append_only'),
    ]

    operations = [
        migrations.RunPython(remask, migrations.RunPython.noop),
    ]
