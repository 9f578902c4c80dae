"""The deployment as shipped: the Dockerfile passes hadolint, deploy/compose.yaml
runs one image as web, worker and release, and the image's own commands
(release, gunicorn with its config file, the worker) serve a production-set
portal here: /healthz on any host, /readyz once a worker beats, HTTPS and
the host check enforced everywhere else. (No Docker engine runs on these
machines, so the image itself is built where one does.)"""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from tests.support.http_double import free_port
from tests.flows.test_checks import ENCRYPTION_KEYS, LIVE_CREDENTIALS, VENDOR_PREFIXES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())


def test_the_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    done = subprocess.run([hadolint, "--failure-threshold", "info", str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_runs_as_a_numeric_non_root_user_with_a_health_check():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim AS build$", dockerfile, re.M)
    assert re.search(r"^USER 10001$", dockerfile, re.M)
    assert "collectstatic --noinput" in dockerfile and "/healthz" in dockerfile
    assert dockerfile.rstrip().endswith('CMD ["gunicorn", "-c", "gunicorn.conf.py"]')


def test_compose_runs_one_image_as_web_worker_and_release_beside_its_services():
    services = COMPOSE["services"]
    portal = {name: services[name] for name in ("web", "worker", "release")}
    assert {service["image"] for service in portal.values()} == {"kyc-portal:latest"}
    assert portal["web"]["command"] == ["gunicorn", "-c", "gunicorn.conf.py"]
    assert portal["worker"]["command"][:3] == ["python", "manage.py", "db_worker"]
    assert portal["release"]["command"] == ["python", "manage.py", "release"]
    assert portal["web"]["deploy"]["replicas"] > 1 and portal["worker"]["deploy"]["replicas"] > 1
    assert {"proxy", "postgres", "redis", "minio"} <= set(services)
    environment = portal["web"]["environment"]
    assert environment["MEDIA_STORAGE"] == "s3" and environment["REDIS_URL"].startswith("redis://")


def test_every_portal_variable_in_the_deploy_examples_is_one_the_settings_read():
    settings_source = (ROOT / "kyc_portal" / "settings.py").read_text()
    names = set(COMPOSE["x-portal"]["environment"])
    names |= {line.split("=", 1)[0] for line in (ROOT / "deploy" / "env.example").read_text().splitlines() if "=" in line and not line.startswith("#")}
    portal_names = {name for name in names if not name.startswith(("POSTGRES_", "MINIO_"))}
    unread = sorted(name for name in portal_names if f'"{name}"' not in settings_source and name != "FORWARDED_ALLOW_IPS")
    assert unread == []
    assert "FORWARDED_ALLOW_IPS" in (ROOT / "gunicorn.conf.py").read_text()


# --- the image's commands, run here ---------------------------------------------------


@pytest.fixture
def production(tmp_path):
    """The environment of a production container, on a throw-away database."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(VENDOR_PREFIXES + ("DEBUG", "DATABASE_URL"))}
    return {
        **clean,
        "DJANGO_SETTINGS_MODULE": "kyc_portal.settings",
        "DEBUG": "0",
        "SECRET_KEY": "a-long-random-production-key-" + "x" * 40,
        "SITE_URL": "https://kyc.bank.example.cn",
        "ALLOWED_HOSTS": "kyc.bank.example.cn",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "PORT": str(free_port()),
        "WEB_CONCURRENCY": "1",
        "KYC_TRUSTED_PROXIES": "1",  # as behind deploy/nginx.conf, which sets X-Forwarded-Proto
        "KYC_VENDOR_MODE": "live",
        **LIVE_CREDENTIALS,
        **ENCRYPTION_KEYS,
    }


def manage(env, *args):
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def wait_for(url, *, status, seconds=30, **kwargs):
    deadline = time.monotonic() + seconds
    while True:
        try:
            answer = requests.get(url, timeout=2, allow_redirects=False, **kwargs)
            if answer.status_code == status:
                return answer
        # A worker still booting on a busy machine accepts nothing yet, or
        # takes the connection and answers late: both are "not up yet".
        except (requests.ConnectionError, requests.Timeout):
            answer = None
        if time.monotonic() > deadline:
            last = "no answer" if answer is None else f"{answer.status_code} {answer.text[:500]}"
            raise AssertionError(f"{url} did not answer {status}: {last}")
        time.sleep(0.3)


def test_the_image_commands_serve_a_production_portal(production):
    manage(production, "collectstatic", "--noinput")
    manage(production, "check", "--deploy", "--fail-level", "WARNING")
    released = manage(production, "release")
    assert "Daily retention task queued" in released.stdout
    assert "Expiry sweep task queued" in released.stdout
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    base = f"http://127.0.0.1:{production['PORT']}"
    web = subprocess.Popen([gunicorn, "-c", "gunicorn.conf.py"], cwd=ROOT, env=production,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    worker = None
    try:
        assert wait_for(f"{base}/healthz", status=200).json() == {"status": "ok"}  # on 127.0.0.1, over http
        not_ready = requests.get(f"{base}/readyz", timeout=5)
        assert not_ready.status_code == 503 and not_ready.json()["checks"]["worker"] == "no task worker seen yet"

        worker = subprocess.Popen([sys.executable, "manage.py", "db_worker", "--interval", "0.5"], cwd=ROOT,
                                  env=production, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_for(f"{base}/readyz", status=200).json()["status"] == "ready"

        # Everything else: HTTPS first, and only the configured host.
        plain = requests.get(f"{base}/", headers={"Host": "kyc.bank.example.cn"}, timeout=5, allow_redirects=False)
        assert plain.status_code == 301 and plain.headers["Location"] == "https://kyc.bank.example.cn/"
        https = {"X-Forwarded-Proto": "https"}
        assert requests.get(f"{base}/api/v1/sessions", headers={**https, "Host": "evil.example"}, timeout=5).status_code == 400
        api = requests.get(f"{base}/api/v1/sessions", headers={**https, "Host": "kyc.bank.example.cn"}, timeout=5)
        assert api.status_code == 401 and api.json()["error"]["code"] == "unauthorized"
        assert re.fullmatch(r"[0-9a-f]{32}", api.headers["X-Request-ID"])
    finally:
        for process in (web, worker):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
