from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path(settings.ADMIN_URL, admin.site.urls),
    path("", include("verification.web.urls")),
    # The language switch of pages that belong to no session (set_language);
    # a session's pages store the choice on the session (verification:language).
    path("i18n/", include("django.conf.urls.i18n")),
]

if settings.SANDBOX_MODE:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))

handler404 = "verification.web.errors.not_found"
handler500 = "verification.web.errors.server_error"
