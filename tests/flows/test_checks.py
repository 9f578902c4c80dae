"""Start-up checks and settings that must stop a bad deployment early."""

import os
import subprocess
import sys

import pytest

from verification.web.checks import check_jumdata_return_url_fits, check_not_sandbox_in_production


def test_a_normal_site_url_leaves_room_for_the_return_url(settings):
    settings.SITE_URL = "https://kyc.bank.example.cn"
    assert check_jumdata_return_url_fits() == []


def test_a_site_url_too_long_for_jumdata_is_an_error(settings):
    settings.SITE_URL = "https://" + "very-long-subdomain." * 4 + "example.com/kyc/portal"

    (error,) = check_jumdata_return_url_fits()

    assert error.id == "verification.E001" and "128" in error.msg and "at most" in error.hint


VENDOR_PREFIXES = ("JUMDATA_", "TENCENT_", "JUHE_", "KYC_", "TENCENTCLOUD_", "FACEID_")


# Required with DEBUG off (tests/unit/test_crypto.py covers them missing).
ENCRYPTION_KEYS = {
    "KYC_FIELD_KEYS": "k1:" + "A" * 43 + "=",
    "KYC_SEARCH_KEY": "B" * 43 + "=",
}


def run_settings(show="s.JUMDATA_BASE_URL, s.JUMDATA_APP_ID", **env):
    """Imports the settings in a fresh interpreter with only `env` set and
    prints `show` (an expression over the settings module `s`)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(VENDOR_PREFIXES + ("SECRET_KEY", "DEBUG"))}
    return subprocess.run(
        [sys.executable, "-c", f"import kyc_portal.settings as s; print({show})"],
        env={**clean, **ENCRYPTION_KEYS, **env},
        capture_output=True,
        text=True,
    )


def test_sandbox_mode_needs_no_credentials():
    done = run_settings(SECRET_KEY="k", SITE_URL="http://127.0.0.1:8000")
    assert done.returncode == 0
    assert done.stdout.split() == ["http://127.0.0.1:8000/sandbox/jumdata", "sandbox-jumdata-app"]


def test_live_mode_without_a_credential_stops_naming_the_variable():
    done = run_settings(SECRET_KEY="k", KYC_VENDOR_MODE="live")
    assert done.returncode != 0
    assert "JUMDATA_APP_ID must be set" in done.stderr


LIVE_CREDENTIALS = {
    "JUMDATA_APP_ID": "a", "JUMDATA_APP_SECRET": "s",
    "TENCENT_APP_ID": "1", "TENCENT_SECRET_ID": "id", "TENCENT_SECRET_KEY": "key",
    "JUHE_VIDEO_KEY": "k1", "JUHE_VIDEO_AUTH_KEY": "k2",
    "TENCENTCLOUD_SECRET_ID": "AKIDlive", "TENCENTCLOUD_SECRET_KEY": "live-key", "FACEID_RULE_ID": "7",
}


def test_faceid_settings_in_each_mode():
    show = "s.FACEID_BASE_URL, s.FACEID_REGION, s.FACEID_RULE_ID, s.TENCENTCLOUD_SECRET_ID"
    sandbox = run_settings(show=show, SECRET_KEY="k", SITE_URL="http://127.0.0.1:8000")
    assert sandbox.stdout.split() == [
        "http://127.0.0.1:8000", "ap-guangzhou", "1", "AKIDsandboxFaceIdSecretId00000000000"
    ], sandbox.stderr
    live = run_settings(show=show, SECRET_KEY="k", KYC_VENDOR_MODE="live", **LIVE_CREDENTIALS)
    assert live.stdout.split() == ["https://faceid.tencentcloudapi.com", "ap-guangzhou", "7", "AKIDlive"]
    double = run_settings(show=show, SECRET_KEY="k", KYC_VENDOR_MODE="live", **LIVE_CREDENTIALS,
                          FACEID_BASE_URL="http://127.0.0.1:8501", FACEID_REGION="ap-beijing")
    assert double.stdout.split()[:2] == ["http://127.0.0.1:8501", "ap-beijing"]


def test_live_mode_needs_the_faceid_secret_and_no_path_in_its_url():
    missing = {k: v for k, v in LIVE_CREDENTIALS.items() if k != "TENCENTCLOUD_SECRET_KEY"}
    done = run_settings(SECRET_KEY="k", KYC_VENDOR_MODE="live", **missing)
    assert done.returncode != 0 and "TENCENTCLOUD_SECRET_KEY" in done.stderr
    done = run_settings(SECRET_KEY="k", KYC_VENDOR_MODE="live", **LIVE_CREDENTIALS,
                        FACEID_BASE_URL="https://example.com/faceid")
    assert done.returncode != 0 and "FACEID_BASE_URL" in done.stderr


def test_live_mode_uses_the_vendor_hosts():
    done = run_settings(SECRET_KEY="k", KYC_VENDOR_MODE="live", **LIVE_CREDENTIALS)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["https://api.jumdata.com", "a"]


@pytest.mark.parametrize("missing", sorted(LIVE_CREDENTIALS))
def test_live_mode_names_each_missing_credential(missing):
    env = {k: v for k, v in LIVE_CREDENTIALS.items() if k != missing}
    done = run_settings(SECRET_KEY="k", KYC_VENDOR_MODE="live", **env)
    assert done.returncode != 0 and f"{missing} must be set" in done.stderr


def test_debug_off_without_a_secret_key_stops():
    done = run_settings()
    assert done.returncode != 0 and "SECRET_KEY must be set" in done.stderr


def deploy_check(**env):
    """`manage.py check --deploy --fail-level WARNING` in a fresh process with
    production settings and `env`."""
    production = {
        "SECRET_KEY": "a-long-random-production-key-" + "x" * 40,
        "SITE_URL": "https://kyc.bank.example.cn",
        "ALLOWED_HOSTS": "kyc.bank.example.cn",
        "DEBUG": "0",
        **ENCRYPTION_KEYS,
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith(VENDOR_PREFIXES + ("DEBUG",))}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env={**clean, **production, **env, "DJANGO_SETTINGS_MODULE": "kyc_portal.settings"},
        capture_output=True,
        text=True,
    )


def test_production_settings_pass_the_deploy_check():
    done = deploy_check(KYC_VENDOR_MODE="live", **LIVE_CREDENTIALS)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "proxies, header",
    [(None, "None"), ("0", "None"), ("1", "('HTTP_X_FORWARDED_PROTO', 'https')"), ("2", "('HTTP_X_FORWARDED_PROTO', 'https')")],
)
def test_x_forwarded_proto_is_trusted_only_behind_a_proxy(proxies, header):
    """Reached directly, anyone could send `X-Forwarded-Proto: https` and pass as HTTPS."""
    env = {"SECRET_KEY": "k"} | ({"KYC_TRUSTED_PROXIES": proxies} if proxies is not None else {})
    done = run_settings(show="s.SECURE_PROXY_SSL_HEADER", **env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == header


def test_a_negative_number_of_proxies_stops():
    done = run_settings(SECRET_KEY="k", KYC_TRUSTED_PROXIES="-1")
    assert done.returncode != 0 and "KYC_TRUSTED_PROXIES must be 0 or more" in done.stderr


def test_local_media_are_written_for_the_owner_alone():
    done = run_settings(show="oct(s.FILE_UPLOAD_PERMISSIONS), oct(s.FILE_UPLOAD_DIRECTORY_PERMISSIONS)", SECRET_KEY="k")
    assert done.stdout.split() == ["0o600", "0o700"]


def test_the_deploy_check_warns_of_sandbox_mode_with_debug_off():
    done = deploy_check()  # KYC_VENDOR_MODE defaults to sandbox
    assert done.returncode != 0
    assert "verification.W001" in done.stderr and "KYC_VENDOR_MODE is sandbox while DEBUG is off" in done.stderr


@pytest.mark.parametrize(
    "debug, sandbox, warned",
    [(False, True, True), (False, False, False), (True, True, False), (True, False, False)],
)
def test_sandbox_mode_is_a_deploy_warning_only_with_debug_off(settings, debug, sandbox, warned):
    settings.DEBUG, settings.SANDBOX_MODE = debug, sandbox
    assert [w.id for w in check_not_sandbox_in_production()] == (["verification.W001"] if warned else [])
