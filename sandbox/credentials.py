"""The credentials the sandbox vendors accept, documented in the README.

They are public on purpose: the sandbox holds no secret and bills nobody.
The portal's settings carry the same values as their sandbox-mode defaults
(SANDBOX_CREDENTIALS; tests/test_sandbox_credentials.py checks they agree).
"""

JUMDATA_APP_ID = "sandbox-jumdata-app"
JUMDATA_APP_SECRET = "sandbox-jumdata-secret"

TENCENT_APP_ID = "1250000000"
TENCENT_SECRET_ID = "AKIDsandboxTencentSecretId0000000000"
TENCENT_SECRET_KEY = "sandboxTencentSecretKey000000000"
TENCENT_BUCKET = ""

# Juhe issues one key per API.
JUHE_VIDEO_KEY = "sandbox-juhe-face-vedio-key"
JUHE_VIDEO_AUTH_KEY = "sandbox-juhe-video-auth-key"

# Tencent Cloud FaceID (API 3.0): TC3-HMAC-SHA256 keys, and the one RuleId
# (business flow) the sandbox knows.
TENCENTCLOUD_SECRET_ID = "AKIDsandboxFaceIdSecretId00000000000"
TENCENTCLOUD_SECRET_KEY = "sandboxFaceIdSecretKey0000000000"
FACEID_RULE_ID = "1"
