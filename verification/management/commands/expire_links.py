from django.core.management.base import BaseCommand

from verification.services import sessions


class Command(BaseCommand):
    help = (
        "Record the expiry of sessions whose link has passed it (sending their webhooks); "
        "a task does this every KYC_EXPIRY_SWEEP_MINUTES."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--schedule", action="store_true", help="Also make sure the periodic sweep task is queued (run at deploy)."
        )

    def handle(self, *args, schedule, **options):
        expired = sessions.sessions_expire_links()
        self.stdout.write(f"Expired {expired} session(s) whose link had passed its expiry.")
        if schedule:
            queued = sessions.schedule_expiry_sweep()
            self.stdout.write("Expiry sweep task queued." if queued else "Expiry sweep task already queued.")
