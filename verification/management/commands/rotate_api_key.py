from django.core.management.base import BaseCommand, CommandError

from verification.services.api_keys import DEFAULT_GRACE_HOURS, GraceOutOfRange, api_key_rotate
from verification.models import ApiClient

from ._operator import command_origin


class Command(BaseCommand):
    help = (
        "Give an API client a new key (of the portal's current mode) and print it once. Its older keys keep "
        "working for the grace period, then stop."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="the API client's name")
        parser.add_argument(
            "--grace-hours", type=int, default=DEFAULT_GRACE_HOURS,
            help=f"how long the older keys keep working (default {DEFAULT_GRACE_HOURS}; 0 stops them now)",
        )

    def handle(self, *args, name, grace_hours, **options):
        client = ApiClient.objects.filter(name=name).first()
        if client is None:
            raise CommandError(f"no API client named {name!r}")
        try:
            key = api_key_rotate(
                client=client, grace_hours=grace_hours, actor=None, via=command_origin("rotate_api_key")
            )
        except GraceOutOfRange as problem:
            raise CommandError(str(problem))
        self.stdout.write(f"API client: {client.name}")
        self.stdout.write(f"New API key (shown once, keep it secret): {key}")
        if grace_hours:
            self.stdout.write(f"The older key(s) keep working for {grace_hours} hour(s), then stop.")
        else:
            self.stdout.write("The older key(s) stopped now.")
