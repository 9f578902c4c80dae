"""The credentials the sandbox vendors accept, documented in the README.

They are public on purpose: the sandbox holds no secret and bills nobody.
The portal's settings default to them in sandbox mode.
"""

JUMDATA_APP_ID = "sandbox-jumdata-app"
JUMDATA_APP_SECRET = "sandbox-jumdata-secret"
