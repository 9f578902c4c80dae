from django.core.management.base import BaseCommand, CommandError
from django.core.validators import URLValidator
from django.core.exceptions import ValidationError

from verification.models import ApiClient


class Command(BaseCommand):
    help = "Create an integration client and print its API key (and webhook secret) once."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--origin", action="append", default=[], help="An origin allowed to embed the flow.")
        parser.add_argument("--webhook-url", default="", help="Where session events are delivered.")

    def handle(self, *args, name, origin, webhook_url, **options):
        validate = URLValidator(schemes=["http", "https"])
        for url in [*origin, *([webhook_url] if webhook_url else [])]:
            try:
                validate(url)
            except ValidationError:
                raise CommandError(f"not an http(s) URL: {url}")
        if ApiClient.objects.filter(name=name).exists():
            raise CommandError(f"an API client named {name!r} already exists")
        origins = [o.rstrip("/") for o in origin]
        client, key = ApiClient.issue(name=name, allowed_origins=origins, webhook_url=webhook_url)
        self.stdout.write(f"API client: {client.name}")
        self.stdout.write(f"API key (shown once, keep it secret): {key}")
        if client.webhook_secret:
            self.stdout.write(f"Webhook signing secret (shown once): {client.webhook_secret}")
