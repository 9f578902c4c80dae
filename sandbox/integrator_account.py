"""The demo integrator's account at the portal, opened and kept the way any
product team's is: by the portal's operator commands (README "Commands":
create_api_client, set_allowed_origins, set_webhook_url, rotate_api_key,
rotate_webhook_secret), run through `call_command` and read from their
documented output, never by the portal's code or tables.

The portal prints a key and a signing secret once; the sandbox keeps them in
its own table (IntegratorAccount), never in source. After every migrate in
sandbox mode (sandbox/apps.py) the account is brought up to date:

- a fresh database gets a new API client, with the integrator's origin for
  the current SITE_URL as its only origin and the sandbox's receiver as its
  webhook URL;
- an existing client gets that origin and webhook URL again (SITE_URL may
  have changed), a new key (its older keys stop at once) and a new signing
  secret (the previous one dropped). Whatever happened to its credentials
  meanwhile (a key revoked or rotated in the admin, a database copied, a
  client made before the sandbox kept its own account, whose key was
  published), the demo works again after the next `make run`.
"""

import logging
import re
from io import StringIO

from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from .models import IntegratorAccount

logger = logging.getLogger(__name__)

CLIENT_NAME = "Sandbox demo integrator"

# The lines the commands print a key and a secret on (README "Commands").
KEY_LINE = re.compile(r"^(?:New )?API key \(shown once, keep it secret\): (\S+)$", re.MULTILINE)
SECRET_LINE = re.compile(r"^(?:New webhook|Webhook) signing secret \(shown once\): (\S+)$", re.MULTILINE)


def integrator_origin(site_url: str) -> str:
    """The demo integrator's origin: the portal's host with 127.0.0.1 and
    localhost swapped, so the same server is reached from another site (an
    IP address and a host name never share cookies or an origin)."""
    scheme, _, rest = site_url.partition("://")
    host_port = rest.split("/", 1)[0]
    host, colon, port = host_port.rpartition(":") if host_port.count(":") == 1 else (host_port, "", "")
    other = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}.get(host, "localhost")
    return f"{scheme}://{other}{colon}{port}"


def receiver_url() -> str:
    """Where the portal delivers the demo's webhooks: the portal's own
    origin, the one receiver a sandbox-mode portal sends to over plain http."""
    return settings.SITE_URL + reverse("sandbox:integrator-webhooks")


def keep_account() -> IntegratorAccount:
    """Opens or renews the demo's account at the portal (see the module's
    docstring) and keeps its new key and secret. All or nothing: a renewal
    that fails half-way must not stop the key the sandbox still holds."""
    own_origin = integrator_origin(settings.SITE_URL)
    with transaction.atomic():
        try:
            run("set_allowed_origins", CLIENT_NAME, own_origin)
        except CommandError:
            # No client of that name (the origin is ours and valid: if it
            # were not, create_api_client would say so next).
            output = run(
                "create_api_client", CLIENT_NAME, "--origin", own_origin, "--webhook-url", receiver_url(),
                # What the person is told on the consent: who is asking.
                "--display-name", "Sandbox Shop (demo)",
            )
            api_key, secret = printed(KEY_LINE, output), printed(SECRET_LINE, output)
            opened = True
        else:
            # Before the rotation: a client with no webhook URL had no secret
            # either, and one must exist for --drop-previous to drop.
            run("set_webhook_url", CLIENT_NAME, receiver_url())
            api_key = printed(KEY_LINE, run("rotate_api_key", CLIENT_NAME, "--grace-hours", "0"))
            secret = printed(SECRET_LINE, run("rotate_webhook_secret", CLIENT_NAME))
            run("rotate_webhook_secret", CLIENT_NAME, "--drop-previous")
            opened = False
        account, _ = IntegratorAccount.objects.update_or_create(
            pk=1, defaults={"api_key": api_key, "webhook_secret": secret, "updated_at": timezone.now()}
        )
    logger.info("integrator account %s: origin %s", "opened" if opened else "renewed", own_origin)
    return account


def run(*command: str) -> str:
    """What a portal command printed (it raises CommandError on refusal)."""
    out = StringIO()
    call_command(*command, stdout=out)
    return out.getvalue()


def printed(line: re.Pattern, output: str) -> str:
    found = line.search(output)
    if found is None:
        # Never the output itself: it holds a key or a secret.
        raise RuntimeError(
            f"the portal printed no line matching {line.pattern!r}: has its command output changed?"
        )
    return found.group(1)


def keep_account_after_migrate(sender, apps=None, **kwargs):
    # The app is installed in sandbox mode only, but a test may switch the
    # portal to live mode at run time (and a flush sends post_migrate too,
    # without `apps`): a live key must never be made for the demo.
    if not settings.SANDBOX_MODE:
        return
    try:
        if apps is not None:
            apps.get_model("sandbox", "IntegratorAccount")
    except LookupError:  # migrated back to before the account's table
        return
    keep_account()
