"""Settings for the KYC liveness portal.

Every value comes from the environment, read once here (see `.env.example`
for the full list). Sandbox mode is the default: each vendor's base URL then
points at the portal's own emulators and the credentials are the documented
sandbox values. In live mode a missing vendor credential stops start-up.
"""

from pathlib import Path
from urllib.parse import urlsplit

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


# --- Core -------------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=False)

# A development key only exists while DEBUG is on; anywhere else the key must
# come from the environment.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

# The public base URL: links handed to integrators and the Jumdata returnUrl
# are built from it, so it must be what the user's browser can reach.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "verification.apps.KycAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # django-csp: its system checks (the policy itself is CONTENT_SECURITY_POLICY below).
    "csp",
    # Before django_tasks_db: its `db_worker` command is ours (a heartbeat for /readyz).
    "verification",
    "django_tasks",
    "django_tasks_db",
    # "sandbox" is added below, in sandbox mode only (see Vendors).
]

MIDDLEWARE = [
    # Outermost: the portal's own time per request (and its database time)
    # in every answer's Server-Timing header (docs/benchmarks.md).
    "verification.platform.timing.ServerTimingMiddleware",
    # Then, so every answer gets the Content-Security-Policy: the health
    # checks, error pages and whatever an inner middleware answers alike.
    "csp.middleware.CSPMiddleware",
    # Under /api/ every answer is JSON, whatever made it (DEBUG's pages, a refused host).
    "verification.web.errors.ApiJsonMiddleware",
    # /healthz and /readyz, answered before the host check and the HTTPS redirect.
    "verification.platform.health.HealthCheckMiddleware",
    "verification.platform.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Signs staff out ADMIN_SESSION_MAX_HOURS after they signed in.
    "verification.backoffice.admin_sessions.SignInLifetimeMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # No camera wherever a view did not allow it (end-user pages do).
    "verification.web.embedding.PermissionsPolicyMiddleware",
]

# The Server-Timing header (verification/platform/timing.py); no secret in it.
SERVER_TIMING = env.bool("SERVER_TIMING", default=True)

ROOT_URLCONF = "kyc_portal.urls"
WSGI_APPLICATION = "kyc_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "verification.web.context_processors.portal",
            ],
            # The capture facts a reviewer sees (templates/admin/verification/verificationsession/evidence/capture.html).
            "libraries": {"capture_facts": "verification.backoffice.capture_tags"},
        },
    },
]


# --- Database ---------------------------------------------------------------
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the task worker write to the same file; wait for
    # each other's locks instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
# Keep each thread's connection between requests (a new PostgreSQL connection
# costs milliseconds of a server process's start), checked before reuse.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# --- Tasks ------------------------------------------------------------------
# Django's Tasks API (the django-tasks backport), stored in the database and
# run by `python manage.py db_worker`.

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


# --- Shared state: circuit breakers and rate limits -------------------------
# Every web process and worker must see the same counters: Redis when
# REDIS_URL is set (several machines), else a table in the database.
# https://docs.djangoproject.com/en/5.2/topics/cache/

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    # A Redis that is away (or hung) costs a request two seconds at most:
    # breakers and rate limits then let people through, and /readyz says so.
    CACHES = {"default": {
        "BACKEND": "verification.platform.cache.PooledRedisCache", "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }}
else:
    # Made by `manage.py createcachetable` (make run, the test database, deployments).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "kyc_cache"}}


# --- Internationalisation ---------------------------------------------------

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True


# --- Static and media files -------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
# Media hold faces: they are never served from a public URL (no MEDIA_URL
# route exists); views that check permissions stream them. MEDIA_STORAGE=s3
# keeps them in S3-compatible object storage (django-storages), private,
# encrypted by the server, so any web process or worker on any machine
# reads what another stored.
# https://django-storages.readthedocs.io/en/latest/backends/amazon-S3.html
MEDIA_STORAGE = env.str("MEDIA_STORAGE", default="local")
# Local media are readable by the portal's user alone: faces and videos are
# not for other accounts on the machine (uploads arrive in 0600 temporary files).
# https://docs.djangoproject.com/en/5.2/ref/settings/#file-upload-permissions
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
if MEDIA_STORAGE == "local":
    MEDIA_BACKEND = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
elif MEDIA_STORAGE == "s3":
    MEDIA_BACKEND = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("S3_BUCKET"),
            "endpoint_url": env.str("S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("S3_REGION", default="us-east-1"),
            "access_key": env.str("S3_ACCESS_KEY_ID"),
            "secret_key": env.str("S3_SECRET_ACCESS_KEY"),
            "default_acl": "private",
            "file_overwrite": False,
            "object_parameters": {"ServerSideEncryption": "AES256"},
        },
    }
else:
    raise ImproperlyConfigured("MEDIA_STORAGE must be 'local' or 's3'.")
STORAGES = {
    "default": MEDIA_BACKEND,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}


# --- Security ---------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/

# How many proxies in front of the portal append to X-Forwarded-For (0: none,
# REMOTE_ADDR is the browser). Wrong here means limits count the proxy.
KYC_TRUSTED_PROXIES = env.int("KYC_TRUSTED_PROXIES", default=0)
if KYC_TRUSTED_PROXIES < 0:
    raise ImproperlyConfigured("KYC_TRUSTED_PROXIES must be 0 or more.")
# X-Forwarded-Proto says "this came over HTTPS" only when a proxy of ours set
# it; reaching the portal directly, anyone could send it (and pass as HTTPS).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if KYC_TRUSTED_PROXIES else None
_https = SITE_URL.startswith("https://")
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_https)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if _https else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _https
SECURE_HSTS_PRELOAD = _https
SECURE_REFERRER_POLICY = "same-origin"
CSRF_TRUSTED_ORIGINS = [SITE_URL]
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy on every answer (django-csp): scripts and styles
# only from the portal's own static files, a page that needs an inline script
# allows it by a nonce (`request.csp_nonce`), never 'unsafe-inline'. The QR
# code is an SVG data URI and the recorder previews its clip from a blob URL.
# Framing is refused here; the end-user pages of a client that lists origins
# replace frame-ancestors with them, and an H5 page adds the vendor's origin
# to form-action, since its start form is redirected there
# (verification/embedding.py). A view that sets its own policy keeps it.
# https://django-csp.readthedocs.io/en/latest/configuration.html
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "media-src": [SELF, "blob:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}

# Uploads are streamed to disk above this size instead of held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=10 * 1024 * 1024)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]


# --- Logging ----------------------------------------------------------------
# Vendor bodies hold faces and ID numbers: modules log the vendor, endpoint,
# code and request id only, never a body. What servers log by themselves
# (request lines, referrers, paths of errors, tracebacks) goes through one
# handler whose RedactFilter rewrites link tokens, hand-off codes, query
# strings, ID numbers and face-image URLs (verification/logs.py); Django's
# own handlers are dropped, so its request and runserver lines ("django",
# "django.server") reach that handler too. Gunicorn's access and error logs
# get the same filter (kyc_portal/gunicorn_logging.py).

LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be 'plain' or 'json'.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "verification.platform.logs.RedactFilter"},
        "request_id": {"()": "verification.platform.logs.RequestIdFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "verification.platform.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["redact", "request_id"]}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # No handlers of their own (Django's defaults: a console while DEBUG
        # is on, mail to ADMINS, runserver's request lines): up to the root's.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        # urllib3's DEBUG lines name every vendor request's path and query:
        # a vendor's signed URL to a person's face, say.
        "urllib3": {"level": "INFO"},
    },
}


# --- Verification sessions --------------------------------------------------

KYC_SESSION_TTL_HOURS = env.int("KYC_SESSION_TTL_HOURS", default=24)
# How often a task records the expiry of links that have passed it (and sends
# their webhooks); pages show an expired link as expired at once.
KYC_EXPIRY_SWEEP_MINUTES = env.int("KYC_EXPIRY_SWEEP_MINUTES", default=5)
if KYC_EXPIRY_SWEEP_MINUTES < 1:
    raise ImproperlyConfigured("KYC_EXPIRY_SWEEP_MINUTES must be 1 or more.")
KYC_MAX_ATTEMPTS = env.int("KYC_MAX_ATTEMPTS", default=3)
# Bumped whenever the consent text changes, so each consent record says
# which wording the person agreed to.
KYC_CONSENT_VERSION = env.str("KYC_CONSENT_VERSION", default="2026-11-v1")
# How often a page told that the vendor is not answering asks again whether
# it is back (static/js/outage.js).
KYC_OUTAGE_CHECK_SECONDS = env.int("KYC_OUTAGE_CHECK_SECONDS", default=15)


# --- Vendors ----------------------------------------------------------------

KYC_VENDOR_MODE = env.str("KYC_VENDOR_MODE", default="sandbox")
if KYC_VENDOR_MODE not in ("sandbox", "live"):
    raise ImproperlyConfigured("KYC_VENDOR_MODE must be 'sandbox' or 'live'.")
SANDBOX_MODE = KYC_VENDOR_MODE == "sandbox"
if SANDBOX_MODE:
    # The vendor emulators and the demo integrator (mounted at /sandbox/ by
    # kyc_portal/urls.py). The portal never imports them: a live portal has
    # neither their code loaded nor their tables.
    INSTALLED_APPS.append("sandbox")
    # FaceID's SDK posts every action to "/" of its endpoint: the emulator
    # takes such requests (POST / with X-TC-Action) before anything else.
    MIDDLEWARE.insert(0, "sandbox.faceid.RootEndpointMiddleware")
# The sandbox's vendors answer after this many seconds, as far-away vendors
# do (the benchmarks set it; sandbox/trouble.py also emulates outages).
SANDBOX_LATENCY_SECONDS = env.float("SANDBOX_LATENCY_SECONDS", default=0.0)


# The sandbox's published test credentials (README "The sandbox"), the
# defaults in sandbox mode. They are public on purpose: the emulators bill
# nobody and guard nothing. sandbox/credentials.py is the emulators' own
# copy; tests/test_sandbox_credentials.py checks that the two agree.
SANDBOX_CREDENTIALS = {
    "JUMDATA_APP_ID": "sandbox-jumdata-app",
    "JUMDATA_APP_SECRET": "sandbox-jumdata-secret",
    "TENCENT_APP_ID": "1250000000",
    "TENCENT_SECRET_ID": "AKIDsandboxTencentSecretId0000000000",
    "TENCENT_SECRET_KEY": "sandboxTencentSecretKey000000000",
    "TENCENT_BUCKET": "",
    "JUHE_VIDEO_KEY": "sandbox-juhe-face-vedio-key",
    "JUHE_VIDEO_AUTH_KEY": "sandbox-juhe-video-auth-key",
    "TENCENTCLOUD_SECRET_ID": "AKIDsandboxFaceIdSecretId00000000000",
    "TENCENTCLOUD_SECRET_KEY": "sandboxFaceIdSecretKey0000000000",
    "FACEID_RULE_ID": "1",
}


def vendor_setting(name, *, sandbox, live=None):
    """One vendor setting: the environment wins; otherwise the sandbox value
    in sandbox mode, the documented production value (if any) in live mode."""
    value = env.str(name, default="")
    if value:
        return value
    if SANDBOX_MODE:
        return sandbox
    if live is None:
        raise ImproperlyConfigured(f"{name} must be set when KYC_VENDOR_MODE=live.")
    return live


# After this many failed calls in a row (no answer, garbage, 5xx) a vendor is
# left alone for VENDOR_BREAKER_OPEN_SECONDS, then probed (vendors/breaker.py).
VENDOR_BREAKER_FAILURES = env.int("VENDOR_BREAKER_FAILURES", default=5)
VENDOR_BREAKER_OPEN_SECONDS = env.int("VENDOR_BREAKER_OPEN_SECONDS", default=30)

VENDOR_TIMEOUT_SECONDS = (
    env.float("VENDOR_CONNECT_TIMEOUT", default=3.05),
    env.float("VENDOR_READ_TIMEOUT", default=15.0),
)

# Jumdata H5 liveness v2 (vendor-docs file 004_…; the README table says 003).
JUMDATA_BASE_URL = vendor_setting(
    "JUMDATA_BASE_URL", sandbox=f"{SITE_URL}/sandbox/jumdata", live="https://api.jumdata.com"
).rstrip("/")
JUMDATA_APP_ID = vendor_setting("JUMDATA_APP_ID", sandbox=SANDBOX_CREDENTIALS["JUMDATA_APP_ID"])
JUMDATA_APP_SECRET = vendor_setting("JUMDATA_APP_SECRET", sandbox=SANDBOX_CREDENTIALS["JUMDATA_APP_SECRET"])
# The vendor token lives 10 minutes (vendors/jumdata.py TOKEN_TTL_SECONDS);
# the result is fetched once more this long before it dies, so a billed
# outcome is kept even if the person left.
JUMDATA_RECONCILE_BEFORE_EXPIRY_SECONDS = env.int("JUMDATA_RECONCILE_BEFORE_EXPIRY_SECONDS", default=60)

# Tencent Cloud legacy face verification (vendor-docs 002).
TENCENT_BASE_URL = vendor_setting(
    "TENCENT_BASE_URL", sandbox=f"{SITE_URL}/sandbox/tencent", live="https://recognition.image.myqcloud.com"
).rstrip("/")
TENCENT_APP_ID = vendor_setting("TENCENT_APP_ID", sandbox=SANDBOX_CREDENTIALS["TENCENT_APP_ID"])
TENCENT_SECRET_ID = vendor_setting("TENCENT_SECRET_ID", sandbox=SANDBOX_CREDENTIALS["TENCENT_SECRET_ID"])
TENCENT_SECRET_KEY = vendor_setting("TENCENT_SECRET_KEY", sandbox=SANDBOX_CREDENTIALS["TENCENT_SECRET_KEY"])
# The bucket is a legacy field the signature may leave empty.
TENCENT_BUCKET = env.str("TENCENT_BUCKET", default=SANDBOX_CREDENTIALS["TENCENT_BUCKET"])
# `sim` at or above this passes the face comparison (70 ⇒ 1/1,000 false
# accepts, 80 ⇒ 1/10,000, per the document).
TENCENT_SIM_THRESHOLD = env.int("TENCENT_SIM_THRESHOLD", default=80)
TENCENT_IDCARD_SIMILARITY_THRESHOLD = env.float("TENCENT_IDCARD_SIMILARITY_THRESHOLD", default=75.0)
TENCENT_PHOTO_SCORE_THRESHOLD = env.int("TENCENT_PHOTO_SCORE_THRESHOLD", default=87)

# Juhe (vendor-docs 000 and 001): one key per API.
JUHE_BASE_URL = vendor_setting("JUHE_BASE_URL", sandbox=f"{SITE_URL}/sandbox/juhe", live="https://apis.juhe.cn").rstrip("/")
JUHE_VIDEO_KEY = vendor_setting("JUHE_VIDEO_KEY", sandbox=SANDBOX_CREDENTIALS["JUHE_VIDEO_KEY"])
JUHE_VIDEO_AUTH_KEY = vendor_setting("JUHE_VIDEO_AUTH_KEY", sandbox=SANDBOX_CREDENTIALS["JUHE_VIDEO_AUTH_KEY"])


# Tencent Cloud FaceID (人脸核身, API 3.0), through Tencent's official SDK
# (shared vendor-docs tencent-faceid-v3.md; docs/vendors-faceid.md). The SDK
# posts to "/" of the endpoint, so the base URL is a scheme and host only; in
# sandbox mode the portal's own host answers FaceID's POST / (sandbox/faceid.py).
# http is accepted, for a test double.
FACEID_BASE_URL = vendor_setting(
    "FACEID_BASE_URL", sandbox=SITE_URL, live="https://faceid.tencentcloudapi.com"
).rstrip("/")
if urlsplit(FACEID_BASE_URL).scheme not in ("http", "https") or urlsplit(FACEID_BASE_URL).path not in ("", "/"):
    raise ImproperlyConfigured("FACEID_BASE_URL must be http(s)://host[:port], with no path (the SDK posts to /).")
TENCENTCLOUD_SECRET_ID = vendor_setting(
    "TENCENTCLOUD_SECRET_ID", sandbox=SANDBOX_CREDENTIALS["TENCENTCLOUD_SECRET_ID"]
)
TENCENTCLOUD_SECRET_KEY = vendor_setting(
    "TENCENTCLOUD_SECRET_KEY", sandbox=SANDBOX_CREDENTIALS["TENCENTCLOUD_SECRET_KEY"]
)
# The business flow made and approved in the FaceID console (DetectAuth,
# GetDetectInfoEnhanced); for faceid_h5 it must allow "open outside WeChat".
FACEID_RULE_ID = vendor_setting("FACEID_RULE_ID", sandbox=SANDBOX_CREDENTIALS["FACEID_RULE_ID"])
# Sent as X-TC-Region with LivenessRecognition / LivenessCompare only (the
# other actions "do not take" it).
FACEID_REGION = env.str("FACEID_REGION", default="ap-guangzhou")
# The origin of the H5 page DetectAuth's Url sends the person to (the CSP's
# form-action and an embedding frame's `allow` must name it). Tencent does
# not document one origin: set it to the one your RuleId's Url shows.
FACEID_H5_ORIGIN = vendor_setting(
    "FACEID_H5_ORIGIN", sandbox=f"{urlsplit(SITE_URL).scheme}://{urlsplit(SITE_URL).netloc}",
    live="https://open.weixin.qq.com",
)
# `Sim` at or above this is the same person: FaceID's fixed threshold (70,
# one false accept in 10,000), raised here if you want to be stricter.
FACEID_SIM_THRESHOLD = env.float("FACEID_SIM_THRESHOLD", default=70.0)


# --- Recorded video and photos ---------------------------------------------

KYC_UPLOAD_MAX_BYTES = env.int("KYC_UPLOAD_MAX_BYTES", default=20 * 1024 * 1024)
# /readyz says "full" when local media storage has less room than this left
# (two uploads of the largest size): uploads would soon fail.
KYC_MEDIA_MIN_FREE_BYTES = env.int("KYC_MEDIA_MIN_FREE_BYTES", default=2 * KYC_UPLOAD_MAX_BYTES)
KYC_RECORDING_SECONDS = env.int("KYC_RECORDING_SECONDS", default=6)
# A challenge (lip code, digits, actions) answers one upload within this many
# seconds of being issued; after that only a new one does (docs/security.md).
KYC_CHALLENGE_TTL_SECONDS = env.int("KYC_CHALLENGE_TTL_SECONDS", default=120)
# A clip that starts more than this many seconds after its challenge was
# issued is noted for review (`late_start`).
KYC_CHALLENGE_LATE_START_SECONDS = env.int("KYC_CHALLENGE_LATE_START_SECONDS", default=60)
# Camera labels (or parts of them, case ignored) that are programs rather than
# cameras, beyond the known ones (OBS, ManyCam, Snap Camera, XSplit, DroidCam,
# v4l2loopback): a recording through one is marked for review (services.capture).
KYC_VIRTUAL_CAMERA_LABELS = env.list("KYC_VIRTUAL_CAMERA_LABELS", default=[])
# videoAuth: faceScore at or above this counts as "same person" (the
# document's sample calls 0.72 the same person and gives no threshold).
JUHE_FACE_SCORE_THRESHOLD = env.float("JUHE_FACE_SCORE_THRESHOLD", default=0.6)
# face_vedio/verify: how many best frames to ask for and keep (2–10; 1 asks for one).
JUHE_BEST_FRAMES = env.int("JUHE_BEST_FRAMES", default=3)


# --- Limits -------------------------------------------------------------------
# Rates are "count/seconds": the public pages per client address, session
# creation per API client. Attempts (each one can bill a vendor) are limited
# per ID number and per address, more strictly than the vendors limit them.

def rate_setting(name, default):
    value = env.str(name, default=default)
    count, _, seconds = value.partition("/")
    if not (count.isdigit() and seconds.isdigit() and int(count) > 0 and int(seconds) > 0):
        raise ImproperlyConfigured(f"{name} must be 'count/seconds', e.g. {default!r}; got {value!r}.")
    return value


def positive_int_setting(name, default):
    value = env.int(name, default=default)
    if value < 1:
        raise ImproperlyConfigured(f"{name} must be a positive whole number; got {value}.")
    return value


KYC_RATE_PUBLIC_WRITES = rate_setting("KYC_RATE_PUBLIC_WRITES", "30/60")
KYC_RATE_PUBLIC_READS = rate_setting("KYC_RATE_PUBLIC_READS", "300/60")
KYC_RATE_HANDOFF_OPENS = rate_setting("KYC_RATE_HANDOFF_OPENS", "20/600")
KYC_RATE_API_SESSIONS = rate_setting("KYC_RATE_API_SESSIONS", "120/60")
# Every other call of the integration API (reads, lists, cancels), per API client.
KYC_RATE_API = rate_setting("KYC_RATE_API", "600/60")
# The sandbox's documented test identities are shared by everyone trying it.
KYC_MAX_ATTEMPTS_PER_IDCARD_PER_DAY = env.int("KYC_MAX_ATTEMPTS_PER_IDCARD_PER_DAY", default=100 if SANDBOX_MODE else 5)
# Mobile carriers put many phones behind one address: not too low.
KYC_MAX_ATTEMPTS_PER_IP_PER_HOUR = env.int("KYC_MAX_ATTEMPTS_PER_IP_PER_HOUR", default=60)
# The client's address behind proxies: KYC_TRUSTED_PROXIES (Security, above).


# --- Webhooks to integrators ---------------------------------------------------
# With DEBUG off a webhook URL must be https and resolve to public addresses
# only (verification/webhook_targets.py), checked when it is set and at each
# delivery. An on-premises receiver on a private address is allowed here on
# purpose: comma-separated host names (allowed whatever they resolve to) or
# addresses and CIDR ranges (e.g. `hooks.corp.internal,10.20.0.0/16`).

from verification.platform.webhook_targets import AllowedPrivateHosts  # noqa: E402

KYC_WEBHOOK_ALLOWED_PRIVATE_HOSTS = env.list("KYC_WEBHOOK_ALLOWED_PRIVATE_HOSTS", default=[])
try:
    AllowedPrivateHosts.parse(KYC_WEBHOOK_ALLOWED_PRIVATE_HOSTS)
except ValueError as exc:
    raise ImproperlyConfigured(f"KYC_WEBHOOK_ALLOWED_PRIVATE_HOSTS is invalid: {exc}.") from None
# A CA bundle (PEM file) that webhook receivers' certificates are checked
# against, e.g. an internal CA's; empty: the public CAs (certifi).
KYC_WEBHOOK_CA_BUNDLE = env.str("KYC_WEBHOOK_CA_BUNDLE", default="")


# --- Back office -------------------------------------------------------------

# The admin lives here (a less obvious path keeps scanners away from its login).
ADMIN_URL = env.str("ADMIN_URL", default="admin/").strip("/") + "/"
# A rejection, or an approval against a failed vendor outcome, needs a second reviewer.
KYC_FOUR_EYES = env.bool("KYC_FOUR_EYES", default=False)
# The review policy (verification/domain/review_policy.py, docs/operations.md#the-review-queue):
# a score within this percentage of its threshold sends the session to review;
# the queue marks cases older than the SLA; a claim lapses after this long idle.
KYC_REVIEW_SCORE_MARGIN_PERCENT = env.float("KYC_REVIEW_SCORE_MARGIN_PERCENT", default=10.0)
KYC_REVIEW_SLA_HOURS = positive_int_setting("KYC_REVIEW_SLA_HOURS", 24)
KYC_REVIEW_CLAIM_IDLE_MINUTES = positive_int_setting("KYC_REVIEW_CLAIM_IDLE_MINUTES", 30)
# Admin login: failed attempts allowed within the window for one account from
# one address (so nobody locks a colleague out from elsewhere), and from one
# address across all accounts (password spraying).
ADMIN_LOGIN_MAX_FAILURES_PER_ACCOUNT = env.int("ADMIN_LOGIN_MAX_FAILURES_PER_ACCOUNT", default=5)
ADMIN_LOGIN_MAX_FAILURES_PER_IP = env.int("ADMIN_LOGIN_MAX_FAILURES_PER_IP", default=20)
ADMIN_LOGIN_WINDOW_MINUTES = env.int("ADMIN_LOGIN_WINDOW_MINUTES", default=15)
# Searching sessions by an exact ID number: staff allowed to see identities
# only, at most this many searches per user ("count/seconds"), each audited.
ADMIN_IDCARD_SEARCHES = rate_setting("ADMIN_IDCARD_SEARCHES", "20/900")
# An admin sign-in ends after this long without a request, and this long
# after signing in whatever happens (verification/admin_sessions.py). Only
# staff have sessions: end-user pages hold none and are sent no cookie.
ADMIN_SESSION_IDLE_MINUTES = positive_int_setting("ADMIN_SESSION_IDLE_MINUTES", 30)
ADMIN_SESSION_MAX_HOURS = positive_int_setting("ADMIN_SESSION_MAX_HOURS", 8)
SESSION_COOKIE_AGE = ADMIN_SESSION_IDLE_MINUTES * 60
# Each request a session comes with moves its end: idle time, not age.
SESSION_SAVE_EVERY_REQUEST = True
# Retention: media (videos, photos, faces) and then names and ID numbers are
# deleted this many days after a session was created; decisions, outcomes,
# hashes and the audit log remain.
KYC_MEDIA_RETENTION_DAYS = env.int("KYC_MEDIA_RETENTION_DAYS", default=30)
KYC_PII_RETENTION_DAYS = env.int("KYC_PII_RETENTION_DAYS", default=180)


# --- Personal data encryption -------------------------------------------------
# Names and ID numbers are stored encrypted with AES-256-GCM (verification/crypto.py).
# KYC_FIELD_KEYS: comma-separated `<key_id>:<base64 32-byte key>`; the first key
# encrypts, every listed key decrypts by its id (rotation: README "Encryption
# of personal data"). KYC_SEARCH_KEY: base64 key of the HMAC-SHA256 hash that
# finds a session by its exact ID number. With DEBUG on in sandbox mode
# (`make run`) missing keys fall back to development keys derived from fixed
# strings: anyone can derive them, so they are for development only.

from verification.platform.crypto import development_key, parse_field_keys, parse_search_key  # noqa: E402


def encryption_setting(name, *, parse, development):
    value = env.str(name, default="")
    if not value:
        if not DEBUG or not SANDBOX_MODE:
            raise ImproperlyConfigured(f"{name} must be set when DEBUG is off or KYC_VENDOR_MODE=live.")
        value = development
    try:
        parse(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is invalid: {exc}.") from None
    return value


KYC_FIELD_KEYS = encryption_setting(
    "KYC_FIELD_KEYS", parse=parse_field_keys, development="dev:" + development_key("field key")
)
KYC_SEARCH_KEY = encryption_setting(
    "KYC_SEARCH_KEY", parse=parse_search_key, development=development_key("search key")
)
