"""The back office's two groups. Reviewers review, see masked data and play
the media of the sessions they open; supervisors may also see full names and
ID numbers, export, purge and erase, and read the audit log."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

REVIEWERS = [
    ("verification", "view_verificationsession"),
    ("verification", "review_session"),
    ("verification", "view_media"),
    ("verification", "view_vendorcall"),
    ("verification", "view_submission"),
    ("verification", "view_reviewdecision"),
]
SUPERVISORS = REVIEWERS + [
    ("verification", "view_full_identity"),
    ("verification", "export_sessions"),
    ("verification", "purge_sessions"),
    ("verification", "view_auditentry"),
    ("verification", "view_apiclient"),
]
GROUPS = {"reviewers": REVIEWERS, "supervisors": SUPERVISORS}


def create_groups(apps, schema_editor):
    # Permissions are normally made after all migrations; make them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUPS.items():
        group, _created = Group.objects.get_or_create(name=name)
        group.permissions.set(
            Permission.objects.get(content_type__app_label=app, codename=codename) for app, codename in codenames
        )


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("verification", "0004_login_failures"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
