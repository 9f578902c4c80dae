"""The yardstick for bench/h5_load.py: a bare Django template view, served
by the same gunicorn setup (gunicorn.conf.py) as the portal.

    gunicorn -c gunicorn.conf.py bench.bare_site:application
"""

import django
from django.conf import settings
from django.http import HttpResponse
from django.template import engines
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY="bare-site-benchmark-only",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    # The portal's Server-Timing alone (a few microseconds): the bench reads
    # the request thread's CPU from it, as from the portal's answers.
    MIDDLEWARE=["verification.platform.timing.ServerTimingMiddleware"],
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}],
)
django.setup()

PAGE = engines["django"].from_string(
    "<!doctype html><title>{{ title }}</title><main><h1>{{ title }}</h1><p>{{ text }}</p></main>"
)


def page(request):
    return HttpResponse(PAGE.render({"title": "Identity verification", "text": "A bare template view."}))


urlpatterns = [path("", page)]

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
