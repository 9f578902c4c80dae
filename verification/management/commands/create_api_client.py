from django.core.management.base import BaseCommand, CommandError

from verification.models import ApiClient, ApiKey
from verification.models.clients import public_link_problem, support_contact_problem
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
        parser.add_argument("--display-name", default="",
                            help="The company name the person is shown (default: NAME).")
        parser.add_argument("--logo-url", default="", help="An https address of the company's logo (optional).")
        parser.add_argument("--privacy-url", default="", help="The company's privacy policy, linked from the consent.")
        parser.add_argument("--support-url", default="",
                            help="Where the person gets help: an https address or an e-mail address.")
        parser.add_argument(
            "--methods", default="",
            help='The order "method": "auto" tries methods in for this client, comma-separated (e.g. h5,tencent_lip).',
        )

    def handle(self, *args, name, origin, webhook_url, display_name, logo_url, privacy_url, support_url, methods,
               **options):
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
        for flag, value in (("--logo-url", logo_url), ("--privacy-url", privacy_url)):
            if value and (problem := public_link_problem(value)):
                raise CommandError(f"{flag}: {problem}")
        if support_url and (problem := support_contact_problem(support_url)):
            raise CommandError(f"--support-url: {problem}")
        if len(display_name) > ApiClient._meta.get_field("display_name").max_length:
            raise CommandError("--display-name: at most 100 characters")
        if ApiClient.objects.filter(name=name).exists():
            raise CommandError(f"an API client named {name!r} already exists")
        client, key = ApiClient.issue(
            name=name, allowed_origins=origins, webhook_url=webhook_url, display_name=display_name.strip(),
            logo_url=logo_url, privacy_url=privacy_url, support_url=support_url, methods=order,
        )
        self.stdout.write(f"API client: {client.name}")
        self.stdout.write(f"Shown to people as: {client.shown_name}")
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
