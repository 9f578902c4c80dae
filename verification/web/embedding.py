"""Embedding the end-user flow in a product team's own app: which origins
may frame a session's pages, what the browser is told about framing and the
camera, the `<iframe allow>` each method needs, and where redirect mode
sends the browser afterwards.

Framing is refused everywhere (`frame-ancestors 'none'` in the site's
Content-Security-Policy, settings.CONTENT_SECURITY_POLICY, and
`X-Frame-Options: DENY`) except on the end-user pages of a session whose
API client lists allowed origins: those pages may be framed by exactly
those origins."""

from urllib.parse import urlencode, urlsplit, urlunsplit

from ..methods import method_of
from ..models import VerificationSession
from ..platform.origins import origin_of

# Camera and microphone for our own pages (a framed page gets them only if
# the embedder's `allow` attribute delegates them too); nothing else.
END_USER_PERMISSIONS = "camera=(self), microphone=(self), geolocation=(), payment=(), usb=()"
NO_PERMISSIONS = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


def allowed_origins(session: VerificationSession) -> list[str]:
    if session.client is None or not session.client.is_active:
        return []
    return list(session.client.allowed_origins)


def apply_frame_policy(response, session: VerificationSession):
    """Headers for one end-user page of `session`: framable by its client's
    origins only, with the camera and microphone usable inside the frame,
    and the vendor's hosted page allowed as a form target where the start
    form is redirected there.

    The policy's changes go where django-csp's `@csp_replace` and
    `@csp_update` decorators put theirs (`_csp_replace`, `_csp_update` on the
    response), since they depend on the session, not on the view."""
    origins = allowed_origins(session)
    if origins:
        response._csp_replace = {"frame-ancestors": origins}
        # X-Frame-Options cannot list origins; the CSP above replaces it.
        response.xframe_options_exempt = True
    updates = {}
    targets = form_targets(session)
    if targets:
        updates["form-action"] = targets
    if session.client is not None and (logo := origin_of(session.client.logo_url or "")):
        # The company's logo, shown above the consent, from its own address.
        updates["img-src"] = [logo]
    if updates:
        response._csp_update = updates
    response["Permissions-Policy"] = END_USER_PERMISSIONS
    return response


def form_targets(session: VerificationSession) -> list[str]:
    """Origins besides the portal's that the session's page submits to.
    Browsers check `form-action` against where a submission is redirected
    too, and the H5 start form (POST /v/<token>/h5/start) is answered with a
    redirect to the vendor's hosted page."""
    methods = [method_of(name) for name in session.possible_methods]
    return list(dict.fromkeys(method.hosted_page_origin() for method in methods if method.is_hosted))


def iframe_allow(session: VerificationSession) -> str:
    """The `<iframe allow>` an embedder needs: for an `auto` session, what
    any of its methods may need."""
    allowlists: dict[str, list[str]] = {}
    for name in session.possible_methods:
        for directive in method_of(name).iframe_allow().split(";"):
            feature, *origins = directive.split()
            allowed = allowlists.setdefault(feature, [])
            for origin in origins or ["'src'"]:  # a bare feature is the frame's own origin
                if origin not in allowed:
                    allowed.append(origin)
    return "; ".join(
        feature if allowed == ["'src'"] else " ".join([feature, *allowed]) for feature, allowed in allowlists.items()
    )


class PermissionsPolicyMiddleware:
    """Every page that did not set its own Permissions-Policy may use neither
    camera nor microphone: the admin, the API, the landing page and the error
    pages alike. (Framing is refused by the site's Content-Security-Policy
    and X-Frame-Options; see the module's docstring.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", NO_PERMISSIONS)
        return response


def redirect_url(session: VerificationSession) -> str | None:
    """Redirect mode: the session's return URL with its id added, provided
    its origin is (still) allowed for the client. The outcome is never put
    in the URL: integrators read it from the API or a webhook."""
    if not session.return_url or origin_of(session.return_url) not in allowed_origins(session):
        return None
    parts = urlsplit(session.return_url)
    query = "&".join(filter(None, [parts.query, urlencode({"session_id": str(session.id)})]))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


# --- what the page tells the app that frames it (postMessage) -------------------------
# static/js/embed.js posts each event to the embedding origin, never to "*":
# {"source": "kyc-portal", "type": …, "session_id": …, …}. The page decides
# the events from the session on each load; the recorder adds `started`,
# `submitted` and `error` as they happen in the page.

# What the entry page just came back from (its ?after= parameter).
AFTER_EVENTS = {"consent": "consent_given", "h5_return": "submitted"}


def completed_event(session: VerificationSession) -> dict:
    return {
        "type": "completed", "status": session.status, "final": session.is_final,
        "retry_allowed": session.retry_allowed,
    }


def error_event(code: str) -> dict:
    return {"type": "error", "code": code}


def page_events(session: VerificationSession, *, after: str = "") -> list[dict]:
    """The events one load of the entry page announces, in order."""
    events = [{"type": "ready", "step": _step(session)}]
    if after in AFTER_EVENTS:
        events.append({"type": AFTER_EVENTS[after]})
    if session.status in session.OUTCOME_STATUSES:
        events.append(completed_event(session))
    if session.status == session.Status.CANCELLED:
        events.append({"type": "cancelled", "reason": session.reason})
    return events


def _step(session: VerificationSession) -> str:
    if not session.has_consent and session.status != session.Status.CANCELLED:
        return "consent"
    if session.status in session.OUTCOME_STATUSES or session.status == session.Status.CANCELLED:
        return "result"
    if not session.method or session.status == session.Status.CREATED or (
        session.status == session.Status.IN_PROGRESS and not method_of(session.method).is_hosted
    ):
        return "start"
    return "pending"


def parent_config(session: VerificationSession, *, events: list[dict]) -> dict:
    """What static/js/embed.js needs, rendered into the page as JSON."""
    return {
        "session_id": str(session.id),
        "origins": allowed_origins(session),
        "events": events,
        "redirect_url": redirect_url(session),
        "final": session.is_final,
    }
