"""Steering, shared by the Tencent and Juhe emulators: a tester queues the
answer for the next call to one endpoint (stored in the database, used
once, oldest first, dropped after SANDBOX_STEER_TTL seconds)."""

import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from .models import SteeredAnswer

logger = logging.getLogger(__name__)


class SteerError(ValueError):
    """A steering form that does not say a valid answer."""


def steer_ttl_seconds():
    return getattr(settings, "SANDBOX_STEER_TTL", 600)


def steer_view(request, *, vendor, parse, page_context):
    """GET: the steering page. POST: queue an answer (`parse(form)` gives
    `(endpoint, answer)` or raises SteerError), or `action=clear`."""
    if request.method == "GET":
        return HttpResponse(render_to_string("sandbox/steer.html", page_context()))
    if request.method != "POST":
        return HttpResponse("steer accepts GET and POST", status=405, headers={"Allow": "GET, POST"})
    form = request.POST
    if form.get("action") == "clear":
        cleared = SteeredAnswer.live(vendor, steer_ttl_seconds(), form.get("endpoint") or None).delete()[0]
        logger.info("%s steer: cleared %s", vendor, cleared)
        return JsonResponse({"cleared": cleared})
    try:
        endpoint, answer = parse(form)
    except SteerError as problem:
        return JsonResponse({"error": str(problem)}, status=400)
    SteeredAnswer.objects.create(vendor=vendor, endpoint=endpoint, answer=answer)
    pending = SteeredAnswer.live(vendor, steer_ttl_seconds(), endpoint).count()
    logger.info("%s steer: queued for %s (%s pending)", vendor, endpoint, pending)
    return JsonResponse({"queued": answer, "endpoint": endpoint, "pending": pending}, status=201)
