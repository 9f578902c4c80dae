from django.conf import settings


def portal(request):
    """Marks every page of a sandbox deployment as such."""
    return {"sandbox_mode": settings.SANDBOX_MODE}
