"""Supervisors rotate and revoke integrators' API keys from the admin and
see the keys' hints and lives; reviewers do neither."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SUPERVISOR_PERMISSIONS = [("verification", "manage_api_keys"), ("verification", "view_apikey")]


def _permissions(apps):
    # Permissions are normally made after all migrations; make them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Permission = apps.get_model("auth", "Permission")
    return [Permission.objects.get(content_type__app_label=app, codename=codename)
            for app, codename in SUPERVISOR_PERMISSIONS]


def grant(apps, schema_editor):
    group, _created = apps.get_model("auth", "Group").objects.get_or_create(name="supervisors")
    group.permissions.add(*_permissions(apps))


def withdraw(apps, schema_editor):
    group = apps.get_model("auth", "Group").objects.filter(name="supervisors").first()
    if group is not None:
        group.permissions.remove(*_permissions(apps))


class Migration(migrations.Migration):
    dependencies = [
        ("verification", "0018_api_keys"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, withdraw)]
