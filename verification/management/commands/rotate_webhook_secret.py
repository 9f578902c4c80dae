from django.core.management.base import BaseCommand, CommandError

from verification.models import ApiClient


class Command(BaseCommand):
    help = (
        "Give a client a new webhook signing secret and print it once. The old one stays valid (webhooks "
        "carry both signatures) until --drop-previous removes it."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--drop-previous", action="store_true",
            help="Stop signing with the previous secret (once the integrator uses the new one); no new secret.",
        )

    def handle(self, *args, name, drop_previous, **options):
        client = ApiClient.objects.filter(name=name).first()
        if client is None:
            raise CommandError(f"no API client named {name!r}")
        if drop_previous:
            if not client.webhook_secret_previous:
                raise CommandError(f"{name!r} has no previous webhook secret")
            client.drop_previous_webhook_secret()
            self.stdout.write(f"Previous webhook secret of {name} dropped: webhooks carry one signature again.")
            return
        client.rotate_webhook_secret()
        self.stdout.write(f"API client: {client.name}")
        self.stdout.write(f"New webhook signing secret (shown once): {client.webhook_secret}")
        if client.webhook_secret_previous:
            self.stdout.write(
                "The previous secret stays valid; run again with --drop-previous once the receiver uses the new one."
            )
