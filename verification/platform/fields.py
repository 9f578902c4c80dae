"""Model fields that keep personal data encrypted at rest."""

from django.db import models

from . import crypto


class EncryptedTextField(models.TextField):
    """Text stored encrypted (see `verification/crypto.py`), with the field's
    name bound in, so the database alone never holds it in clear.

    The same text encrypts differently every time, so the only lookup that
    works is equality with "" (empty stays empty, unencrypted). Search goes
    through a keyed hash column instead (`VerificationSession.idcard_hash`).
    A value that fails to decrypt raises `crypto.DecryptionError`; the
    ciphertext is never handed back as if it were the text.
    """

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(value, field=self.name)

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return crypto.decrypt(value, field=self.name)
