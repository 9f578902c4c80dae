"""The portal's admin site: Django's, with throttled logins, and the back
office's own pages (media, dashboard, export) behind its login."""

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from . import login_throttle
from .dashboard import dashboard
from .exports import export_sessions_csv
from .media import media_view


class KycAdminSite(admin.AdminSite):
    site_header = _("KYC liveness portal — back office")
    site_title = _("KYC back office")
    index_title = _("Review and oversight")

    def login(self, request, extra_context=None):
        """Refuses to even check a password once an account or an address has
        failed too often (login_throttle counts the failures)."""
        if request.method == "POST":
            refusal = login_throttle.refusal(request)
            if refusal:
                context = {**self.each_context(request), "title": _("Log in"), "app_path": request.get_full_path(),
                           "username": request.POST.get("username", ""), "throttled": refusal}
                return TemplateResponse(request, "admin/login_throttled.html", context, status=429)
        return super().login(request, extra_context)

    def get_urls(self):
        return [
            path("verification/media/<str:kind>/<uuid:public_id>/", self.admin_view(media_view),
                 name="verification_media"),
            path("verification/dashboard/", self.admin_view(dashboard), name="verification_dashboard"),
            path("verification/export.csv", self.admin_view(export_sessions_csv), name="verification_export_csv"),
        ] + super().get_urls()
