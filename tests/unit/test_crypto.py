"""Field encryption (AES-256-GCM), the keyed search hash, key rotation and
the settings that supply the keys."""

import base64
import hashlib
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings

from verification.platform import crypto

IDCARD = "11010519491231002X"
# kyc_portal/test_settings.py: "test2" is current, "test1" the older key.
NEW_KEY, OLD_KEY = django_settings.KYC_FIELD_KEYS.split(",")


def test_it_round_trips_and_names_the_current_key():
    token = crypto.encrypt("张三", field="realname")

    assert token.startswith("v1:test2:") and "张三" not in token
    assert crypto.decrypt(token, field="realname") == "张三"


def test_the_same_text_encrypts_differently_each_time():
    assert crypto.encrypt(IDCARD, field="idcard") != crypto.encrypt(IDCARD, field="idcard")


def test_a_tampered_value_fails_to_decrypt():
    token = crypto.encrypt(IDCARD, field="idcard")
    prefix, blob = token.rsplit(":", 1)
    raw = bytearray(base64.urlsafe_b64decode(blob))
    raw[-1] ^= 1
    tampered = f"{prefix}:{base64.urlsafe_b64encode(bytes(raw)).decode()}"

    with pytest.raises(crypto.DecryptionError, match="'test2'.*fails authentication"):
        crypto.decrypt(tampered, field="idcard")


@pytest.mark.parametrize("broken", ["v1:test2:", "v1:test2:!!!", "v1:test2:AAAA"])
def test_a_truncated_or_garbled_value_fails_clearly(broken):
    with pytest.raises(crypto.DecryptionError, match="test2"):
        crypto.decrypt(broken, field="idcard")


def test_a_value_from_one_field_does_not_decrypt_as_another():
    token = crypto.encrypt(IDCARD, field="idcard")

    with pytest.raises(crypto.DecryptionError, match="realname"):
        crypto.decrypt(token, field="realname")


def test_an_unknown_key_id_fails_naming_it(settings):
    token = crypto.encrypt("张三", field="realname")
    settings.KYC_FIELD_KEYS = OLD_KEY

    with pytest.raises(crypto.DecryptionError, match="key id 'test2' is not in KYC_FIELD_KEYS"):
        crypto.decrypt(token, field="realname")


def test_plaintext_is_refused_without_being_echoed():
    with pytest.raises(crypto.DecryptionError) as caught:
        crypto.decrypt(IDCARD, field="idcard")
    assert IDCARD not in str(caught.value)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("", "no key"),
        ("nokeyid", "<key_id>:<base64 key>"),
        ("a:not base64!", "not valid base64"),
        ("a:" + base64.b64encode(b"short").decode(), "32 bytes"),
        ("a:{k},a:{k}".format(k=base64.b64encode(b"k" * 32).decode()), "appears twice"),
    ],
)
def test_malformed_key_lists_are_refused(text, problem):
    with pytest.raises(ValueError, match=problem):
        crypto.parse_field_keys(text)


# --- the keyed hash -------------------------------------------------------------


def test_the_search_hash_is_stable_and_ignores_case_of_the_x():
    expected = crypto.search_hash(IDCARD)
    assert crypto.search_hash(IDCARD.lower()) == crypto.search_hash(f" {IDCARD} ") == expected
    assert len(crypto.search_hash(IDCARD)) == 64


def test_the_search_hash_is_not_a_plain_sha256():
    assert crypto.search_hash(IDCARD) != hashlib.sha256(IDCARD.encode()).hexdigest()


def test_the_search_hash_depends_on_the_key(settings):
    before = crypto.search_hash(IDCARD)
    settings.KYC_SEARCH_KEY = base64.b64encode(b"another search key, 32 bytes!!!!").decode()

    assert crypto.search_hash(IDCARD) != before


# --- rotation -------------------------------------------------------------------


# --- settings -------------------------------------------------------------------


def run_settings(**env):
    """Imports the settings in a fresh interpreter with only `env` set."""
    dropped = ("KYC_", "SECRET_KEY", "DEBUG", "DJANGO_")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    return subprocess.run(
        [sys.executable, "-c", "import kyc_portal.settings as s; print(s.KYC_FIELD_KEYS.split(':')[0])"],
        env={**clean, "SECRET_KEY": "k", **env},
        capture_output=True,
        text=True,
    )


def test_debug_off_without_field_keys_stops_naming_the_variable():
    done = run_settings(KYC_SEARCH_KEY=base64.b64encode(b"s" * 32).decode())
    assert done.returncode != 0 and "KYC_FIELD_KEYS must be set" in done.stderr


def test_debug_off_without_a_search_key_stops_naming_the_variable():
    done = run_settings(KYC_FIELD_KEYS=NEW_KEY)
    assert done.returncode != 0 and "KYC_SEARCH_KEY must be set" in done.stderr


def test_a_malformed_key_stops_start_up_without_showing_it():
    done = run_settings(DEBUG="1", KYC_FIELD_KEYS="k1:c2VjcmV0")
    assert done.returncode != 0 and "KYC_FIELD_KEYS is invalid" in done.stderr
    assert "c2VjcmV0" not in done.stderr


def test_debug_on_in_sandbox_mode_uses_development_keys():
    done = run_settings(DEBUG="1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "dev"


def test_live_mode_never_uses_development_keys():
    credentials = {
        "JUMDATA_APP_ID": "a", "JUMDATA_APP_SECRET": "s", "TENCENT_APP_ID": "1", "TENCENT_SECRET_ID": "id",
        "TENCENT_SECRET_KEY": "key", "JUHE_VIDEO_KEY": "k1", "JUHE_VIDEO_AUTH_KEY": "k2",
        "TENCENTCLOUD_SECRET_ID": "AKIDlive", "TENCENTCLOUD_SECRET_KEY": "live-key", "FACEID_RULE_ID": "7",
    }
    done = run_settings(DEBUG="1", KYC_VENDOR_MODE="live", **credentials)
    assert done.returncode != 0 and "KYC_FIELD_KEYS must be set" in done.stderr
