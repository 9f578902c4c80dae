"""Emulated vendor trouble, for the benchmarks and for trying the portal's
resilience by hand: every vendor endpoint answers after
SANDBOX_LATENCY_SECONDS (a real vendor is far away), and while a fault is
set it answers HTTP 503 to a share of the calls, or hangs past any sensible
read timeout, as a vendor in an outage does.

    POST /sandbox/trouble  error_rate=0.3 seconds=60      (30 % errors for a minute)
    POST /sandbox/trouble  hang_seconds=20 seconds=60     (timeouts for a minute)
    POST /sandbox/trouble  seconds=0                      (over)
    GET  /sandbox/trouble  → what is set

The state is in the database: every process serving the sandbox sees it."""

import random
import time
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .models import VendorTrouble

MAX_SECONDS = 3600
MAX_HANG_SECONDS = 120


def troubled(view):
    """Wraps one vendor endpoint with the latency and the current fault."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        latency = getattr(settings, "SANDBOX_LATENCY_SECONDS", 0.0)
        if latency:
            time.sleep(latency)
        fault = VendorTrouble.current()
        if fault is not None:
            if fault.hang_seconds:
                time.sleep(fault.hang_seconds)
            if random.random() < fault.error_rate:  # noqa: S311 - an emulated outage, not a secret
                return HttpResponse("<h1>503 Service Temporarily Unavailable</h1>", status=503, content_type="text/html")
        return view(request, *args, **kwargs)

    return wrapper


@csrf_exempt
@require_http_methods(["GET", "POST"])
def trouble(request):
    if request.method == "POST":
        try:
            seconds = int(request.POST.get("seconds", "60"))
            error_rate = float(request.POST.get("error_rate", "0"))
            hang_seconds = float(request.POST.get("hang_seconds", "0"))
        except ValueError:
            return JsonResponse({"error": "seconds, error_rate and hang_seconds must be numbers"}, status=400)
        if not (0 <= seconds <= MAX_SECONDS and 0 <= error_rate <= 1 and 0 <= hang_seconds <= MAX_HANG_SECONDS):
            return JsonResponse(
                {"error": f"seconds 0–{MAX_SECONDS}, error_rate 0–1, hang_seconds 0–{MAX_HANG_SECONDS}"}, status=400
            )
        VendorTrouble.objects.update_or_create(
            pk=1,
            defaults={"error_rate": error_rate, "hang_seconds": hang_seconds,
                      "until": timezone.now() + timedelta(seconds=seconds)},
        )
    fault = VendorTrouble.current()
    return JsonResponse(
        {"error_rate": fault.error_rate, "hang_seconds": fault.hang_seconds, "until": fault.until.isoformat()}
        if fault else {"error_rate": 0, "hang_seconds": 0, "until": None}
    )
