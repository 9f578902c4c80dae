# Vendor-call rows written before redact() cut URLs hold vendors' face and
# picture URLs whole (and our return URLs with link tokens); rows of sessions
# whose name and ID number are already gone still hold them masked. Both are
# brought to what the portal writes and keeps today.

from django.db import migrations


def redact_kept_summaries(apps, schema_editor):
    from verification.vendors.base import erase_personal, redact, redact_urls

    VendorCall = apps.get_model("verification", "VendorCall")
    identity_gone = {"session__realname": "", "session__idcard": ""}
    for calls, clean in ((VendorCall.objects.filter(**identity_gone), erase_personal),
                         (VendorCall.objects.exclude(**identity_gone), redact)):
        for call in calls.iterator():
            kept = (call.request_summary, call.response_summary, call.error)
            call.request_summary, call.response_summary = clean(call.request_summary), clean(call.response_summary)
            call.error = redact_urls(call.error)
            if (call.request_summary, call.response_summary, call.error) != kept:
                call.save(update_fields=["request_summary", "response_summary", "error"])


class Migration(migrations.Migration):

    dependencies = [
        ('verification', '0012_media_public_ids_unique'),
    ]

    operations = [
        migrations.RunPython(redact_kept_summaries, migrations.RunPython.noop),
    ]
