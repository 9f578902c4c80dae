"""The vendor emulators, mounted at /sandbox/ in sandbox mode.

Each vendor sits under its own prefix, so a portal setting such as
JUMDATA_BASE_URL = <site>/sandbox/jumdata points at the emulator with the
vendor's own paths after it.
"""

from django.urls import path, re_path

from . import jumdata

app_name = "sandbox"

urlpatterns = [
    # Jumdata H5 liveness V2: the vendor's paths (no trailing slash, as documented).
    path("jumdata/lifecheck/h5/v2/init", jumdata.init, name="jumdata-init"),
    path("jumdata/lifecheck/h5/v2/html", jumdata.html, name="jumdata-html"),
    path("jumdata/lifecheck/h5/v2/result", jumdata.result, name="jumdata-result"),
    # Sandbox-only: what the emulated page posts to, and the face photo.
    path("jumdata/h5/finish", jumdata.finish, name="jumdata-finish"),
    path("jumdata/face/<slug:face_token>.jpg", jumdata.face, name="jumdata-face"),
    # Anything else under the prefix is the vendor's "404 接口地址不正确".
    re_path(r"^jumdata(?:/.*)?$", jumdata.not_found, name="jumdata-not-found"),
]
