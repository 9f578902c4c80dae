from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import URLValidator

from verification.models import ApiClient
from verification.webhook_targets import WebhookHostUnresolved, WebhookTargetRefused, check_webhook_url
from verification.webhooks import new_secret


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
        if url:
            try:
                URLValidator(schemes=["http", "https"])(url)
                check_webhook_url(url)
            except ValidationError:
                raise CommandError(f"not an http(s) URL: {url}")
            except (WebhookTargetRefused, WebhookHostUnresolved) as problem:
                raise CommandError(f"webhook URL refused: {problem}")
        client.webhook_url = url
        # The secret outlives a pause (""), so the receiver's copy stays
        # good when webhooks are turned back on; rotate_webhook_secret changes it.
        new_signing_secret = bool(url) and not client.webhook_secret
        if new_signing_secret:
            client.webhook_secret = new_secret()
        client.save(update_fields=["webhook_url", "webhook_secret"])
        self.stdout.write(f"Webhook URL of {client.name}: {url or '(none: no webhooks are sent)'}")
        if new_signing_secret:
            self.stdout.write(f"Webhook signing secret (shown once): {client.webhook_secret}")
