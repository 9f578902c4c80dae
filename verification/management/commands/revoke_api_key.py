import shlex

from django.core.management.base import BaseCommand, CommandError

from verification.services.api_keys import api_keys_revoke
from verification.models import ApiClient

from ._operator import command_origin


class Command(BaseCommand):
    help = (
        "Stop every API key of a client at once (a leaked key). Its sessions and webhooks stay; "
        "`rotate_api_key` gives it a new key."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="the API client's name")

    def handle(self, *args, name, **options):
        client = ApiClient.objects.filter(name=name).first()
        if client is None:
            raise CommandError(f"no API client named {name!r}")
        revoked = api_keys_revoke(client=client, actor=None, via=command_origin("revoke_api_key"))
        self.stdout.write(f"API client: {client.name}: {revoked} key(s) revoked, effective now.")
        self.stdout.write(f"Give it a new key with: python manage.py rotate_api_key {shlex.quote(client.name)} --grace-hours 0")
