"""Settings for the test suite: the real settings, with a test-only key and
media in a throw-away folder. DATABASE_URL still decides the database."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-used-anywhere-else")
# Two field keys, so rotation can be tested: "test2" encrypts, "test1" still decrypts.
os.environ.setdefault(
    "KYC_FIELD_KEYS",
    "test2:dGVzdHMtb25seSBmaWVsZCBrZXkgbnVtYmVyIDIhISE=,test1:dGVzdHMtb25seSBmaWVsZCBrZXkgbnVtYmVyIDEhISE=",
)
os.environ.setdefault("KYC_SEARCH_KEY", "dGVzdHMtb25seSBzZWFyY2gga2V5LCBub3QgcmVhbCE=")

from .settings import *  # noqa: E402,F403

# A worker process a test starts is handed the test's folder (tests/flows/test_dead_sender.py).
MEDIA_ROOT = Path(os.environ.get("KYC_TEST_MEDIA_ROOT") or tempfile.mkdtemp(prefix="kyc-test-media-"))  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
# Serve static files from the app folders, as runserver does, for the
# browser tests' live server.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# The breakers' and rate limits' cache: one per test process (the live server
# and the task runs of the tests share it); tests/test_vendors_breaker.py and
# tests/test_ratelimit.py also run against the database cache and Redis.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Persistent connections would outlive the live server's threads and keep the
# test database busy when pytest drops it.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not Django's in-memory test database: that one is shared
    # between the live server's request threads through SQLite's shared
    # cache, whose table locks fail at once ("database table is locked")
    # instead of waiting, so a browser loading a page and its images in
    # parallel failed tests now and then. In a file the settings' 20 s busy
    # timeout applies; WAL lets readers and the writer pass each other, and
    # a test database need not survive a power cut.
    DATABASES["default"]["TEST"] = {"NAME": str(Path(tempfile.mkdtemp(prefix="kyc-test-db-")) / "test.sqlite3")}  # noqa: F405
    DATABASES["default"]["OPTIONS"]["init_command"] = "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF"  # noqa: F405
