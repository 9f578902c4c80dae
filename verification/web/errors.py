"""The site's error pages: JSON under /api/, the portal's own page elsewhere."""

from django.shortcuts import render
from django.utils.translation import gettext as _

from .api import api_error
from .steps import message_page


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return api_error(404, "not_found", "no such endpoint")
    return message_page(request, _("Page not found"), _("This page does not exist."), status=404)


def server_error(request):
    if request.path.startswith("/api/"):
        return api_error(500, "server_error", "something went wrong on our side; it has been logged")
    return render(request, "500.html", status=500)
