"""The method of a session is a name in verification.methods.REGISTRY (its
label comes from there, not from field choices), and background tasks moved
beside the services they run: tasks queued before this release, under the
old module, are pointed at the new one, so none is lost on upgrade."""

from django.db import migrations, models

MOVED_TASKS = {
    "verification.tasks.collect_h5_result": "verification.services.hosted.collect_hosted_result",
    "verification.tasks.store_face_image": "verification.services.outcomes.store_face_image",
    "verification.tasks.send_submission": "verification.services.recorded.send_submission",
    "verification.tasks.check_submission_answered": "verification.services.recorded.check_submission_answered",
    "verification.tasks.purge_expired_data": "verification.services.retention.purge_expired_data",
    "verification.tasks.expire_links": "verification.services.sessions.expire_links",
    "verification.tasks.deliver_webhook": "verification.services.webhooks.deliver_webhook",
}


def move_queued_tasks(apps, schema_editor, paths=MOVED_TASKS):
    TaskResult = apps.get_model("django_tasks_database", "DBTaskResult")
    for old, new in paths.items():
        TaskResult.objects.filter(task_path=old).update(task_path=new)


def move_queued_tasks_back(apps, schema_editor):
    move_queued_tasks(apps, schema_editor, paths={new: old for old, new in MOVED_TASKS.items()})


class Migration(migrations.Migration):

    dependencies = [
        ("verification", "0020_audit_actions_merged"),
        ("django_tasks_database", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="verificationsession",
            name="method",
            field=models.CharField(max_length=20, verbose_name="method"),
        ),
        migrations.RunPython(move_queued_tasks, move_queued_tasks_back),
    ]
