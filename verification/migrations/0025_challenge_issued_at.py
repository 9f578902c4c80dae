from django.db import migrations, models
from django.db.models import F


def challenges_issued_when_last_written(apps, schema_editor):
    """A challenge issued before issue times were kept counts from the
    session's last change: at the latest, when it was issued."""
    sessions = apps.get_model("verification", "VerificationSession")
    sessions.objects.exclude(challenge_kind="").update(challenge_issued_at=F("updated_at"))


class Migration(migrations.Migration):

    dependencies = [
        ("verification", "0024_api_idempotency_and_listing"),
    ]

    operations = [
        migrations.AddField(
            model_name="verificationsession",
            name="challenge_issued_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="challenge issued at"),
        ),
        migrations.RunPython(challenges_issued_when_last_written, migrations.RunPython.noop),
    ]
