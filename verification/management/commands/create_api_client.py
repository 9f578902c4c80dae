from django.core.management.base import BaseCommand, CommandError

from verification.models import ApiClient, ApiKey
from verification.platform.origins import clean_origins
from verification.platform.webhook_targets import webhook_url_problem
from verification.services.method_order import method_order_problems


class Command(BaseCommand):
    help = "Create an integration client and print its API key (and webhook secret) once."

    def add_arguments(self, parser):
        parser.add_argument(
            "--origin", action="append", default=[],
            help="An origin (scheme://host[:port]) allowed to frame the flow and to be a return_url; repeatable.",
        )
        parser.add_argument("name")
        parser.add_argument("--webhook-url", default="", help="Where session events are delivered.")
        parser.add_argument(
            "--methods", default="",
            help='The order "method": "auto" tries methods in for this client, comma-separated (e.g. h5,tencent_lip).',
        )

    def handle(self, *args, name, origin, webhook_url, methods, **options):
        try:
            origins = clean_origins(origin)
        except ValueError as problem:
            raise CommandError(str(problem))
        if webhook_url and (problem := webhook_url_problem(webhook_url)):
            raise CommandError(problem)
        order = []
        if methods:
            order, problems = method_order_problems([m.strip() for m in methods.split(",") if m.strip()])
            if problems:
                raise CommandError(f"--methods {problems['methods']}")
        if ApiClient.objects.filter(name=name).exists():
            raise CommandError(f"an API client named {name!r} already exists")
        client, key = ApiClient.issue(name=name, allowed_origins=origins, webhook_url=webhook_url, methods=order)
        self.stdout.write(f"API client: {client.name}")
        if client.allowed_origins:
            self.stdout.write(f"Allowed origins: {' '.join(client.allowed_origins)}")
        if client.methods:
            self.stdout.write(f"Method order for auto: {', '.join(client.methods)}")
        self.stdout.write(f"API key (shown once, keep it secret): {key}")
        if ApiKey.current_mode() == ApiKey.Mode.TEST:
            self.stdout.write("This is a test key: it works only while the portal runs in sandbox mode.")
        else:
            self.stdout.write("This is a live key: it works only while the portal runs in live mode.")
        if client.webhook_secret:
            self.stdout.write(f"Webhook signing secret (shown once): {client.webhook_secret}")
