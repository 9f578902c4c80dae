"""Rotating the field-encryption key and the search key over stored sessions
(`rotate_field_keys`)."""

import base64
import io

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from tests.support.factories import new_session
from tests.flows.test_encryption_at_rest import stored
from verification.models import VerificationSession
from verification.platform import crypto

IDCARD = "11010519491231002X"
# kyc_portal/test_settings.py: "test2" is current, "test1" the older key.
NEW_KEY, OLD_KEY = django_settings.KYC_FIELD_KEYS.split(",")


@pytest.mark.django_db
def test_data_under_the_old_key_still_reads_after_rotation_and_is_reencrypted(settings):
    settings.KYC_FIELD_KEYS = OLD_KEY
    session = new_session(method="h5", external_ref="r", realname="张三", idcard=IDCARD)
    empty = new_session(method="h5", external_ref="no-identity")
    assert stored(session, "idcard").startswith("v1:test1:")

    settings.KYC_FIELD_KEYS = f"{NEW_KEY},{OLD_KEY}"
    assert VerificationSession.objects.get(pk=session.pk).realname == "张三"

    out = io.StringIO()
    call_command("rotate_field_keys", batch_size=1, stdout=out)

    assert "Re-encrypted 1 session(s) with key 'test2'" in out.getvalue()
    assert stored(session, "realname").startswith("v1:test2:")
    assert stored(session, "idcard").startswith("v1:test2:")
    assert stored(empty, "idcard") == ""
    settings.KYC_FIELD_KEYS = NEW_KEY  # the old key can go now
    reread = VerificationSession.objects.get(pk=session.pk)
    assert (reread.realname, reread.idcard) == ("张三", IDCARD)

    again = io.StringIO()
    call_command("rotate_field_keys", stdout=again)
    assert "Re-encrypted 0 session(s)" in again.getvalue()


@pytest.mark.django_db
def test_rotation_keeps_hashes_unless_asked_to_rehash(settings):
    session = new_session(method="h5", external_ref="r", realname="张三", idcard=IDCARD)
    purged = new_session(method="h5", external_ref="p", realname="李四", idcard=IDCARD)
    purged.realname = purged.idcard = ""
    purged.save()
    old_hash = session.idcard_hash
    settings.KYC_SEARCH_KEY = base64.b64encode(b"another search key, 32 bytes!!!!").decode()

    call_command("rotate_field_keys", stdout=io.StringIO())
    assert VerificationSession.objects.get(pk=session.pk).idcard_hash == old_hash

    out = io.StringIO()
    call_command("rotate_field_keys", rehash=True, stdout=out)
    assert "Recomputed the search hash of 1 session(s)" in out.getvalue()
    new_hash = VerificationSession.objects.get(pk=session.pk).idcard_hash
    assert new_hash == crypto.search_hash(IDCARD) != old_hash
    # A purged session keeps the hash it had: there is no number left to hash.
    assert VerificationSession.objects.get(pk=purged.pk).idcard_hash == old_hash


@pytest.mark.django_db
def test_rotation_stops_clearly_on_a_missing_key(settings):
    new_session(method="h5", external_ref="r", realname="张三", idcard=IDCARD)
    settings.KYC_FIELD_KEYS = OLD_KEY

    with pytest.raises(CommandError, match="key id 'test2' is not in KYC_FIELD_KEYS"):
        call_command("rotate_field_keys", stdout=io.StringIO())
