from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction
from django.db.models.functions import Cast

from verification.platform import crypto
from verification.models import VerificationSession

ENCRYPTED_FIELDS = ("realname", "idcard")


def under_another_key(session, current: str) -> bool:
    """Whether any stored (annotated, still encrypted) value names another key id."""
    return any(
        (stored := getattr(session, f"stored_{field}")) and crypto.key_id_of(stored) != current
        for field in ENCRYPTED_FIELDS
    )


class Command(BaseCommand):
    help = (
        "Re-encrypt names and ID numbers still under an older key with the current (first) key of "
        "KYC_FIELD_KEYS. With --rehash, also recompute the ID-number search hashes (after KYC_SEARCH_KEY "
        "changed). Safe to run again: rows already done are skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--rehash", action="store_true", help="Recompute idcard_hash with the current KYC_SEARCH_KEY."
        )
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, rehash, batch_size, **options):
        current = crypto.current_key_id()
        # The stored text as it is (Cast to a plain text field skips decryption), to read its key id.
        sessions = VerificationSession.objects.annotate(
            **{f"stored_{field}": Cast(field, models.TextField()) for field in ENCRYPTED_FIELDS}
        ).order_by("pk")
        reencrypted = rehashed = 0
        last_pk = None
        while True:
            page = sessions if last_pk is None else sessions.filter(pk__gt=last_pk)
            try:
                batch = list(page[:batch_size])
            except crypto.DecryptionError as exc:
                raise CommandError(
                    f"{exc}. Add that key to KYC_FIELD_KEYS (after the current one) and run again."
                ) from None
            if not batch:
                break
            with transaction.atomic():
                for session in batch:
                    changes = {}
                    if under_another_key(session, current):
                        # The field encrypts on the way in, with the current key.
                        changes.update({field: getattr(session, field) for field in ENCRYPTED_FIELDS})
                        reencrypted += 1
                    # A purged session's hash cannot be recomputed (its number is gone): it stays.
                    if rehash and session.idcard:
                        new_hash = crypto.search_hash(session.idcard)
                        if new_hash != session.idcard_hash:
                            changes["idcard_hash"] = new_hash
                            rehashed += 1
                    if changes:
                        VerificationSession.objects.filter(pk=session.pk).update(**changes)
            last_pk = batch[-1].pk
        self.stdout.write(f"Re-encrypted {reencrypted} session(s) with key {current!r}.")
        if rehash:
            self.stdout.write(f"Recomputed the search hash of {rehashed} session(s).")
