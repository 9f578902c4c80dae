"""The sandbox stands beside the portal: the portal's settings carry the
sandbox's published test credentials as literal defaults (it never imports
the sandbox), and they must agree with the emulators' own copy in
sandbox/credentials.py. A live portal neither installs nor loads the sandbox."""

import json
import os
import subprocess
import sys

from sandbox import credentials
from tests.flows.test_checks import ENCRYPTION_KEYS, LIVE_CREDENTIALS, VENDOR_PREFIXES

# Every credential the emulators accept, by the portal setting that sends it.
EMULATOR_CREDENTIALS = {
    "JUMDATA_APP_ID": credentials.JUMDATA_APP_ID,
    "JUMDATA_APP_SECRET": credentials.JUMDATA_APP_SECRET,
    "TENCENT_APP_ID": credentials.TENCENT_APP_ID,
    "TENCENT_SECRET_ID": credentials.TENCENT_SECRET_ID,
    "TENCENT_SECRET_KEY": credentials.TENCENT_SECRET_KEY,
    "TENCENT_BUCKET": credentials.TENCENT_BUCKET,
    "JUHE_VIDEO_KEY": credentials.JUHE_VIDEO_KEY,
    "JUHE_VIDEO_AUTH_KEY": credentials.JUHE_VIDEO_AUTH_KEY,
    "TENCENTCLOUD_SECRET_ID": credentials.TENCENTCLOUD_SECRET_ID,
    "TENCENTCLOUD_SECRET_KEY": credentials.TENCENTCLOUD_SECRET_KEY,
    "FACEID_RULE_ID": credentials.FACEID_RULE_ID,
}

# In a fresh interpreter: the settings in force, what is installed, and
# which sandbox modules got loaded once Django, the URLs and every portal
# module are imported.
PROBE = """
import importlib, json, pkgutil, sys
import django
django.setup()
from django.conf import settings
import kyc_portal.urls, verification
for module in pkgutil.walk_packages(verification.__path__, "verification."):
    importlib.import_module(module.name)
print(json.dumps({
    "credentials": {name: getattr(settings, name) for name in %r},
    "installed": "sandbox" in settings.INSTALLED_APPS,
    "loaded": sorted(name for name in sys.modules if name.split(".")[0] == "sandbox"),
}))
"""


def probe(**env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(VENDOR_PREFIXES + ("SECRET_KEY", "DEBUG"))}
    done = subprocess.run(
        [sys.executable, "-c", PROBE % (sorted(EMULATOR_CREDENTIALS),)],
        env={**clean, **ENCRYPTION_KEYS, "SECRET_KEY": "k", "DJANGO_SETTINGS_MODULE": "kyc_portal.settings", **env},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_credentials_module_holds_nothing_the_settings_do_not_send():
    published = {name for name in vars(credentials) if name.isupper()}
    assert published == set(EMULATOR_CREDENTIALS)


def test_in_sandbox_mode_the_portal_sends_what_the_emulators_accept():
    seen = probe()

    assert seen["credentials"] == EMULATOR_CREDENTIALS
    assert seen["installed"] is True


def test_a_live_portal_neither_installs_nor_loads_the_sandbox():
    seen = probe(KYC_VENDOR_MODE="live", **LIVE_CREDENTIALS)

    assert seen["installed"] is False
    assert seen["loaded"] == []
    assert seen["credentials"]["JUMDATA_APP_ID"] == LIVE_CREDENTIALS["JUMDATA_APP_ID"]
