"""Steering, shared by the Tencent and Juhe emulators: a tester queues the
answer for the next call to one endpoint (stored in the database, used
once, oldest first, dropped unused after SANDBOX_STEER_TTL seconds, 600).

    GET  <vendor>/steer                      -> a page: the form, the vendor's
                                                test identities, what is queued
    POST <vendor>/steer endpoint=… + fields  -> HTTP 201 {"queued": {...},
                                                "endpoint": ..., "pending": n},
                                                or HTTP 400 {"error": ...}
    POST <vendor>/steer action=clear         -> drop every queued answer (of
                                                one endpoint if endpoint is given)

The fields are the vendor's (its module's docstring). A steered answer is
only given to a call that passes every check of the endpoint: a bad request
is refused as usual and leaves the answer queued.
"""

import logging
import re

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .models import SteeredAnswer

logger = logging.getLogger(__name__)


class SteerError(ValueError):
    """A steering form that does not say a valid answer."""


def steer_ttl_seconds():
    return getattr(settings, "SANDBOX_STEER_TTL", 600)


def steered(vendor, endpoint):
    """The answer queued for this call of `endpoint` (taken: used once), or {}."""
    return SteeredAnswer.take(vendor, endpoint, steer_ttl_seconds()) or {}


def steer_page(*, vendor, endpoints, parse, page_context):
    """The steering view of one vendor. GET: the page (`page_context()` plus
    the endpoints and the queue). POST: queue an answer for one of
    `endpoints` (`parse(form, endpoint)` gives it or raises SteerError), or
    `action=clear`."""

    @csrf_exempt
    @never_cache
    @require_http_methods(["GET", "POST"])
    def view(request):
        if request.method == "GET":
            pending = SteeredAnswer.live(vendor, steer_ttl_seconds()).order_by("created_at", "id")
            context = {
                **page_context(), "endpoints": endpoints, "pending": pending, "ttl": steer_ttl_seconds()
            }
            return HttpResponse(render_to_string("sandbox/steer.html", context))
        form = request.POST
        if form.get("action") == "clear":
            queued = SteeredAnswer.live(vendor, steer_ttl_seconds(), form.get("endpoint") or None)
            cleared = queued.delete()[0]
            logger.info("%s steer: cleared %s", vendor, cleared)
            return JsonResponse({"cleared": cleared})
        endpoint = form.get("endpoint", "")
        try:
            if endpoint not in endpoints:
                raise SteerError(f"endpoint must be one of {', '.join(endpoints)}")
            answer = parse(form, endpoint)
        except SteerError as problem:
            return JsonResponse({"error": str(problem)}, status=400)
        SteeredAnswer.objects.create(vendor=vendor, endpoint=endpoint, answer=answer)
        pending = SteeredAnswer.live(vendor, steer_ttl_seconds(), endpoint).count()
        logger.info("%s steer: queued for %s (%s pending)", vendor, endpoint, pending)
        return JsonResponse({"queued": answer, "endpoint": endpoint, "pending": pending}, status=201)

    return view


# --- Reading the form ---------------------------------------------------------------------


def steer_integer(form, name, *, allowed=None, low=None, high=None):
    """A whole number from the form: one of `allowed` (a vendor's codes), or
    from `low` to `high`; SteerError otherwise."""
    raw = form.get(name, "").strip()
    if not re.fullmatch(r"-?[0-9]{1,7}", raw):
        raise SteerError(f"{name} must be an integer, got {raw!r}")
    value = int(raw)
    if allowed is not None and value not in allowed:
        raise SteerError(f"{name} {value} is not a documented code it can be steered to")
    if low is not None and not low <= value <= high:
        raise SteerError(f"{name} must be between {low} and {high}")
    return value


def steer_number(form, name, *, low, high, places):
    """A score from the form, from `low` to `high`, rounded to `places`
    decimals; SteerError otherwise."""
    raw = form.get(name, "").strip()
    try:
        value = float(raw)
    except ValueError:
        raise SteerError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise SteerError(f"{name} must be between {low} and {high}")
    return round(value, places)
