from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "What a deployment runs once, before new web processes and workers start: migrations, the cache "
        "table (used without REDIS_URL), and the periodic tasks (daily retention, link-expiry sweep) "
        "queued if they are not."
    )

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=options["verbosity"])
        call_command("createcachetable", verbosity=options["verbosity"])
        call_command("purge_expired", schedule=True, verbosity=options["verbosity"])
        call_command("expire_links", schedule=True, verbosity=options["verbosity"])
