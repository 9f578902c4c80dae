"""The site's error pages: JSON under /api/, the portal's own page elsewhere."""

import logging

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _

from .api import api_error
from .steps import message_page

logger = logging.getLogger(__name__)


def is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def not_found(request, exception=None):
    if is_api(request.path):
        return api_error(404, "not_found", "no such endpoint")
    return message_page(request, _("Page not found"), _("This page does not exist."), status=404)


def server_error(request):
    if is_api(request.path):
        return api_error(500, "server_error", "something went wrong on our side; it has been logged")
    return render(request, "500.html", status=500)


API_ERROR_CODES = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                   413: "payload_too_large", 415: "unsupported_media_type", 429: "rate_limited",
                   500: "server_error"}


class ApiJsonMiddleware:
    """Under /api/ every answer is JSON, in DEBUG too: an answer Django made
    on its own (DEBUG's 404 and 500 pages, a refused Host's 400, a path with
    a trailing slash) becomes the API's error object, keeping its status."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (is_api(request.path) and response.status_code >= 400
                and not response.get("Content-Type", "").startswith("application/json")):
            status = response.status_code
            replacement = api_error(status, API_ERROR_CODES.get(status, "error"),
                                    "no such endpoint" if status == 404 else (response.reason_phrase or "error"))
            for header, value in response.items():
                if header.lower() not in ("content-type", "content-length"):
                    replacement[header] = value
            return replacement
        return response

    def process_exception(self, request, exception):
        # Without DEBUG, handler404/handler500 answer (the test client then
        # re-raises the exception for the test, as it should).
        if not (settings.DEBUG and is_api(request.path)):
            return None
        if isinstance(exception, Http404):
            return api_error(404, "not_found", "no such endpoint")
        logger.error("server error on %s", request.path, exc_info=exception)
        return server_error(request)
