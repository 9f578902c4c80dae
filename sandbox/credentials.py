"""The credentials the sandbox vendors accept, documented in the README.

They are public on purpose: the sandbox holds no secret and bills nobody.
The portal's settings default to them in sandbox mode.
"""

from urllib.parse import urlsplit

JUMDATA_APP_ID = "sandbox-jumdata-app"
JUMDATA_APP_SECRET = "sandbox-jumdata-secret"

TENCENT_APP_ID = "1250000000"
TENCENT_SECRET_ID = "AKIDsandboxTencentSecretId0000000000"
TENCENT_SECRET_KEY = "sandboxTencentSecretKey000000000"
TENCENT_BUCKET = ""

# Juhe issues one key per API.
JUHE_VIDEO_KEY = "sandbox-juhe-face-vedio-key"
JUHE_VIDEO_AUTH_KEY = "sandbox-juhe-video-auth-key"

# The emulated product team at /sandbox/integrator/ ("Try it" in the README):
# the API key its backend sends and the secret its webhook receiver checks.
# In sandbox mode the portal keeps an API client holding exactly these. The
# key is a test key: a portal in live mode refuses it.
INTEGRATOR_API_KEY = "kyc_test_sandbox-integrator-key-public-on-purpose"
INTEGRATOR_WEBHOOK_SECRET = "whsec_c2FuZGJveC1pbnRlZ3JhdG9yLXdlYmhvb2sta2V5ISE="


def origin(url: str) -> str:
    """`scheme://host[:port]` of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def integrator_origin(site_url: str) -> str:
    """The demo integrator's origin: the portal's host with 127.0.0.1 and
    localhost swapped, so the same server is reached from another site (an
    IP address and a host name never share cookies or an origin)."""
    scheme, _, rest = site_url.partition("://")
    host_port = rest.split("/", 1)[0]
    host, colon, port = host_port.rpartition(":") if host_port.count(":") == 1 else (host_port, "", "")
    other = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}.get(host, "localhost")
    return f"{scheme}://{other}{colon}{port}"
