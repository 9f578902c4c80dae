from datetime import timedelta

from django.core.management.base import BaseCommand

from verification.services import retention


class Command(BaseCommand):
    help = (
        "Delete media after KYC_MEDIA_RETENTION_DAYS and names/ID numbers after KYC_PII_RETENTION_DAYS; "
        "decisions, outcomes, hashes and the audit log remain."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--schedule", action="store_true", help="Also make sure the daily retention task is queued (run at deploy)."
        )

    def handle(self, *args, schedule, **options):
        media, identity = retention.sessions_purge_expired()
        self.stdout.write(f"Purged media of {media} session(s), names and ID numbers of {identity} session(s).")
        if schedule:
            queued = retention.schedule_daily_purge(after=timedelta(days=1))
            self.stdout.write("Daily retention task queued." if queued else "Daily retention task already queued.")
