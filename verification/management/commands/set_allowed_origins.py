from django.core.management.base import BaseCommand, CommandError

from verification.platform.origins import clean_origins
from verification.models import ApiClient


class Command(BaseCommand):
    help = (
        "Replace an API client's allowed origins (who may frame its sessions, hear their events and be a "
        "return_url). Give none to allow none."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("origins", nargs="*", help="scheme://host[:port], nothing after it")

    def handle(self, *args, name, origins, **options):
        client = ApiClient.objects.filter(name=name).first()
        if client is None:
            raise CommandError(f"no API client named {name!r}")
        try:
            normalised = clean_origins(origins)
        except ValueError as problem:
            raise CommandError(str(problem))
        client.allowed_origins = normalised
        client.save(update_fields=["allowed_origins"])
        self.stdout.write(f"Allowed origins of {client.name}: {' '.join(normalised) or '(none)'}")
