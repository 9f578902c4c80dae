import uuid

from django.db import migrations


def give_every_row_a_public_id(apps, schema_editor):
    for model_name in ("Submission", "SessionImage"):
        model = apps.get_model("verification", model_name)
        for row in model.objects.filter(public_id=None).only("pk").iterator():
            model.objects.filter(pk=row.pk).update(public_id=uuid.uuid4())


class Migration(migrations.Migration):

    dependencies = [
        ('verification', '0010_media_public_ids'),
    ]

    operations = [
        migrations.RunPython(give_every_row_a_public_id, migrations.RunPython.noop),
    ]
