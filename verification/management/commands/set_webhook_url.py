from django.core.management.base import BaseCommand, CommandError

from verification.models import ApiClient
from verification.platform.webhook_targets import webhook_url_problem


class Command(BaseCommand):
    help = (
        "Set where an API client's session events are delivered, checked as create_api_client checks it; "
        'an empty URL ("") stops its webhooks. A client that had no signing secret gets one, printed once.'
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("url", help='http(s) URL of the receiver, or "" to send no webhooks')

    def handle(self, *args, name, url, **options):
        client = ApiClient.objects.filter(name=name).first()
        if client is None:
            raise CommandError(f"no API client named {name!r}")
        if url and (problem := webhook_url_problem(url)):
            raise CommandError(problem)
        new_signing_secret = client.set_webhook_url(url)
        self.stdout.write(f"Webhook URL of {client.name}: {url or '(none: no webhooks are sent)'}")
        if new_signing_secret:
            self.stdout.write(f"Webhook signing secret (shown once): {new_signing_secret}")
