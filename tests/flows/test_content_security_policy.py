"""Every answer of the portal carries a Content-Security-Policy whose
script-src admits the portal's own files (and a nonce where a page needs
an inline script), never 'unsafe-inline' or a wildcard: every named route
of the URL map (the end-user flow, the API, the admin, the sandbox), the
error pages and the health checks. The end-user pages keep their
per-client frame-ancestors; the H5 page may send its form on to the
vendor's hosted page.

Whether the pages still work under the policy is tests/browser/test_csp.py."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse

from sandbox.integrator_account import integrator_origin
from tests.support.policy import csp, parse_policy
from tests.support.factories import new_session
from verification.models import AuditEntry, VerificationSession
from verification.platform.origins import origin_of
from verification.services.handoffs import session_hand_off

pytestmark = pytest.mark.django_db

# Schemes that admit more than the portal's own files.
WILDCARDS = {"*", "http:", "https:", "data:", "blob:", "filesystem:"}
UNSAFE = {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'wasm-unsafe-eval'"}


def assert_safe_policy(response, where):
    """The answer's policy limits scripts to the portal's files and nonces."""
    assert "Content-Security-Policy" in response.headers, f"{where}: no Content-Security-Policy"
    policy = csp(response)
    scripts = policy.get("script-src")
    assert scripts, f"{where}: no script-src in {policy}"
    assert not set(scripts) & (WILDCARDS | UNSAFE), f"{where}: script-src {scripts}"
    assert all(source == "'self'" or source.startswith("'nonce-") for source in scripts), f"{where}: {scripts}"
    for directive, sources in policy.items():
        assert not set(sources) & UNSAFE, f"{where}: {directive} {sources}"
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"], f"{where}: {policy}"
    assert policy["default-src"] == ["'none'"], f"{where}: {policy}"


def named_routes():
    """(full name, pattern, parameter names) of every named route."""

    def walk(patterns, namespaces):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, namespaces + ([pattern.namespace] if pattern.namespace else []))
            elif pattern.name:
                converters = getattr(pattern.pattern, "converters", None)
                parameters = list(converters) if converters else list(pattern.pattern.regex.groupindex)
                yield ":".join([*namespaces, pattern.name]), parameters

    return list(walk(get_resolver().url_patterns, []))


@pytest.fixture
def superuser():
    return User.objects.create_superuser("root", password="pw-root-123")


@pytest.fixture
def world(alice, superuser):
    """One of everything a route can name: an H5 session of alice's (her
    origin may frame it), a hand-off code, an audit entry."""
    session = new_session(
        client=alice, method="h5", external_ref="csp", realname="张三", idcard="11010519491231002X"
    )
    AuditEntry.objects.create(actor=superuser, actor_name="root", action="view_session", session_ref=session.pk)
    return {"session": session, "handoff": session_hand_off(session=session), "client": alice}


def route_arguments(name, parameters, world):
    session = world["session"]
    model_objects = {
        f"admin:{model._meta.app_label}_{model._meta.model_name}_": model.objects.order_by("pk").first()
        for model in admin.site._registry
    }
    obj = next((o for prefix, o in model_objects.items() if name.startswith(prefix)), None)
    samples = {
        "token": session.link_token,
        "code": world["handoff"].code,
        "session_id": str(session.pk),
        "object_id": str(obj.pk if obj is not None else session.pk),
        "id": str(obj.pk if obj is not None else 1),
        "content_type_id": str(ContentType.objects.get_for_model(VerificationSession).pk),
        "decision_id": "1",
        "client_id": str(world["client"].pk),
        "kind": "face",
        "pk": "1",
        "public_id": "00000000-0000-4000-8000-000000000000",
        "face_token": "no-such-face",
        "app_label": "verification",
        "url": "no/such/page/",
    }
    missing = [parameter for parameter in parameters if parameter not in samples]
    assert not missing, f"{name}: no sample value for {missing}; add one so the route is walked"
    return {parameter: samples[parameter] for parameter in parameters}


def test_every_named_route_answers_every_method_with_a_safe_script_policy(client, world, superuser, settings):
    routes = named_routes()
    assert {"verification:entry", "verification:h5_start", "admin:index", "sandbox:integrator-page"} <= {
        name for name, _ in routes
    }
    # The integrator's pages are served on their own origin (else a redirect there).
    integrator_host = integrator_origin(settings.SITE_URL).split("://", 1)[1]
    as_admin = Client()
    as_admin.force_login(superuser)
    walked = 0
    for name, parameters in routes:
        url = reverse(name, kwargs=route_arguments(name, parameters, world))
        host = {"HTTP_HOST": integrator_host} if name.startswith("sandbox:integrator") else {}
        for visitor in (client, as_admin) if name.startswith("admin:") else (client,):
            for method in ("get", "post"):
                response = getattr(visitor, method)(url, **host)
                assert_safe_policy(response, f"{method.upper()} {url} ({name}) → {response.status_code}")
                walked += 1
    assert walked > 2 * len(routes)


def test_the_admin_pages_a_reviewer_uses_have_the_policy(superuser, world):
    session = world["session"]
    admin_client = Client()
    anonymous = Client()
    assert_safe_policy(anonymous.get(reverse("admin:login")), "login")
    admin_client.force_login(superuser)
    pages = [
        reverse("admin:index"),
        reverse("admin:verification_dashboard"),
        reverse("admin:verification_verificationsession_changelist") + "?q=11010519491231002X",
        reverse("admin:verification_verificationsession_change", args=[session.pk]),
        reverse("admin:verification_auditentry_changelist"),
        reverse("admin:verification_apiclient_changelist"),
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert_safe_policy(response, url)
        assert csp(response)["frame-ancestors"] == ["'none'"] and response["X-Frame-Options"] == "DENY"


def test_the_error_pages_and_health_checks_have_the_policy(client, monkeypatch, world):
    assert_safe_policy(client.get("/healthz"), "/healthz")
    assert_safe_policy(client.get("/readyz"), "/readyz")
    not_found = client.get("/no/such/page")
    assert not_found.status_code == 404
    assert_safe_policy(not_found, "404")

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("verification.web.views.messages.session_user_status", broken)
    crashing = Client(raise_request_exception=False)
    server_error = crashing.get(f"/v/{world['session'].link_token}/")
    assert server_error.status_code == 500 and "Something went wrong" in server_error.text
    assert_safe_policy(server_error, "500")


def test_an_h5_page_may_send_its_form_on_to_the_vendors_hosted_page_and_nowhere_else(client, world, settings):
    settings.JUMDATA_BASE_URL = "https://api.jumdata.com"
    page = client.get(f"/v/{world['session'].link_token}/")

    assert csp(page)["form-action"] == ["'self'", "https://api.jumdata.com"]
    recorded = new_session(method="tencent_lip", external_ref="csp")
    assert csp(client.get(f"/v/{recorded.link_token}/"))["form-action"] == ["'self'"]


def test_end_user_pages_keep_the_per_client_framing_inside_the_full_policy(client, world, charlie):
    framed = client.get(f"/v/{world['session'].link_token}/")
    assert csp(framed)["frame-ancestors"] == ["https://shop.example"] and "X-Frame-Options" not in framed
    assert_safe_policy(framed, "alice's session")

    unframed_session = new_session(client=charlie, method="h5", external_ref="csp")
    unframed = client.get(f"/v/{unframed_session.link_token}/")
    assert csp(unframed)["frame-ancestors"] == ["'none'"] and unframed["X-Frame-Options"] == "DENY"


def test_the_integrator_page_runs_its_inline_script_by_this_answers_nonce_only(client, settings):
    host = integrator_origin(settings.SITE_URL).split("://", 1)[1]
    first = client.get("/sandbox/integrator/", HTTP_HOST=host)
    second = client.get("/sandbox/integrator/", HTTP_HOST=host)

    nonces = [[s for s in csp(r)["script-src"] if s.startswith("'nonce-")] for r in (first, second)]
    assert all(len(n) == 1 for n in nonces) and nonces[0] != nonces[1]
    nonce = nonces[0][0][len("'nonce-"):-1]
    assert f'<script nonce="{nonce}">' in first.text
    # It frames the portal (and the H5 vendor's page the frame goes on to).
    assert set(csp(first)["frame-src"]) == {"'self'", settings.SITE_URL, origin_of(settings.JUMDATA_BASE_URL)}


def test_a_page_without_an_inline_script_gets_no_nonce(client):
    assert csp(client.get("/"))["script-src"] == ["'self'"]


def test_parse_policy_reads_the_first_of_a_repeated_directive():
    assert parse_policy("script-src 'self'; SCRIPT-SRC *; img-src data:") == {
        "script-src": ["'self'"], "img-src": ["data:"],
    }
