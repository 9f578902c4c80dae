import uuid

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('verification', '0011_fill_media_public_ids'),
    ]

    operations = [
        migrations.AlterField(
            model_name='sessionimage',
            name='public_id',
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AlterField(
            model_name='submission',
            name='public_id',
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
