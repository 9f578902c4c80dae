"""The integration API, as a product team's backend uses it."""

import base64
import json

import pytest

from tests.media_samples import make_jpeg, make_png_declaring
from verification.models import VerificationSession

pytestmark = pytest.mark.django_db

VALID_IDCARD = "11010519491231002X"
JPEG = make_jpeg()


def post(client, key, body, **extra):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(
        "/api/v1/sessions",
        data=data,
        content_type=extra.pop("content_type", "application/json"),
        HTTP_AUTHORIZATION=f"Bearer {key}",
        **extra,
    )


def test_alice_creates_a_session_and_gets_a_link_to_open(client, alice, settings):
    response = post(client, alice.key, {"method": "h5", "external_ref": "order-42", "options": {"actions": ["LookFront", "BlinkEye"]}})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "url", "status", "expires_at", "iframe_allow"}
    session = VerificationSession.objects.get(pk=body["id"])
    assert body["iframe_allow"] == f"camera 'src' {settings.SITE_URL}"  # the sandbox's Jumdata page
    assert body["url"] == f"{settings.SITE_URL}/v/{session.link_token}/"
    assert body["status"] == "created"
    assert (session.client, session.external_ref, session.options) == (alice, "order-42", {"actions": ["LookFront", "BlinkEye"]})
    assert session.max_attempts == 3


def test_a_return_url_on_one_of_alices_origins_is_kept(client, alice):
    response = post(client, alice.key, {"method": "h5", "external_ref": "r", "return_url": "https://shop.example/kyc/done?x=1"})

    assert response.status_code == 201
    assert VerificationSession.objects.get().return_url == "https://shop.example/kyc/done?x=1"


def test_charlie_without_origins_cannot_ask_for_a_return_url(client, charlie):
    response = post(client, charlie.key, {"method": "h5", "external_ref": "r", "return_url": "https://shop.example/done"})

    assert response.status_code == 400
    assert "no allowed origins" in response.json()["error"]["fields"]["return_url"]


@pytest.mark.parametrize(
    "method, allow",
    [("tencent_lip", "camera; microphone"), ("juhe_video", "camera; microphone"), ("tencent_photo", "camera")],
)
def test_the_answer_names_the_iframe_allow_attribute_the_method_needs(client, alice, method, allow):
    response = post(client, alice.key, {"method": method, "external_ref": "r"})

    assert response.json()["iframe_allow"] == allow


def test_alice_reads_the_outcome(client, alice):
    session = VerificationSession.objects.create(
        client=alice, method="h5", external_ref="order-7", status="passed", passed=True, reason="passed",
        vendor_code="200",
    )

    response = client.get(f"/api/v1/sessions/{session.pk}", HTTP_AUTHORIZATION=f"Bearer {alice.key}")

    assert response.status_code == 200
    body = response.json()
    assert body["result"] == {"passed": True, "reason": "passed", "vendor_code": "200", "scores": {}}
    assert (body["id"], body["external_ref"], body["method"], body["status"], body["review_status"]) == (
        str(session.pk), "order-7", "h5", "passed", "pending",
    )
    assert body["completed_at"] is None and body["created_at"]
    assert response["Cache-Control"] == "no-store"


def test_charlie_cannot_see_alices_sessions(client, alice, charlie):
    session = VerificationSession.objects.create(client=alice, method="h5", external_ref="x")

    response = client.get(f"/api/v1/sessions/{session.pk}", HTTP_AUTHORIZATION=f"Bearer {charlie.key}")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_session_with_name_and_id_number_keeps_them(client, alice):
    response = post(client, alice.key, {"method": "h5", "external_ref": "r", "realname": "张三", "idcard": "11010519491231002x"})

    assert response.status_code == 201
    session = VerificationSession.objects.get()
    assert (session.realname, session.idcard) == ("张三", VALID_IDCARD)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"external_ref": "r"}, "method"),
        ({"method": "selfie", "external_ref": "r"}, "method"),
        ({"method": "h5"}, "external_ref"),
        ({"method": "h5", "external_ref": "x" * 129}, "external_ref"),
        ({"method": "h5", "external_ref": "r", "realname": "张三", "idcard": "110105194912310021"}, "idcard"),
        ({"method": "h5", "external_ref": "r", "realname": "张三"}, "idcard"),
        ({"method": "h5", "external_ref": "r", "idcard": VALID_IDCARD}, "realname"),
        ({"method": "h5", "external_ref": "r", "options": {"actions": ["Jump"]}}, "options.actions"),
        ({"method": "h5", "external_ref": "r", "options": {"colors": ["#FFFFFF"]}}, "options.colors"),
        ({"method": "h5", "external_ref": "r", "options": {"colors": "#FFFFFF,#000000", "actions": "BlinkEye"}}, "options.actions"),
        ({"method": "h5", "external_ref": "r", "options": {"liveness_type": 1}}, "options"),
        ({"method": "h5", "external_ref": "r", "options": "fast"}, "options"),
        ({"method": "h5", "external_ref": "r", "return_url": "javascript:alert(1)"}, "return_url"),
        ({"method": "h5", "external_ref": "r", "return_url": "https://evil.example/done"}, "return_url"),
        ({"method": "h5", "external_ref": "r", "return_url": "http://shop.example/done"}, "return_url"),
        ({"method": "h5", "external_ref": "r", "locale": "fr"}, "locale"),
        ({"method": "h5", "external_ref": "r", "reference_photo": base64.b64encode(JPEG).decode()}, "reference_photo"),
        ({"method": "h5", "external_ref": "r", "colour": "red"}, "colour"),
    ],
)
def test_invalid_input_is_a_400_naming_the_field_and_stores_nothing(client, alice, body, field):
    response = post(client, alice.key, body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and field in error["fields"]
    assert VerificationSession.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"method": "juhe_video", "external_ref": "r", "options": {"liveness_type": 1}},
        {"method": "juhe_video_auth", "external_ref": "r", "realname": "张三", "idcard": VALID_IDCARD, "options": {"rate_type": 4}},
        {"method": "tencent_lip", "external_ref": "r", "reference_photo": base64.b64encode(JPEG).decode()},
        {"method": "tencent_idcard", "external_ref": "r", "realname": "张三", "idcard": VALID_IDCARD},
        {"method": "tencent_photo", "external_ref": "r"},
    ],
)
def test_each_recorded_method_takes_its_own_options(client, alice, body):
    response = post(client, alice.key, body)
    assert response.status_code == 201, response.json()
    session = VerificationSession.objects.get()
    assert session.options == body.get("options", {})
    assert bool(session.reference_photo) == ("reference_photo" in body)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"method": "juhe_video", "external_ref": "r", "options": {"liveness_type": 3}}, "options.liveness_type"),
        ({"method": "juhe_video", "external_ref": "r", "options": {"liveness_type": "1"}}, "options.liveness_type"),
        ({"method": "juhe_video_auth", "external_ref": "r", "realname": "张三", "idcard": VALID_IDCARD, "options": {"rate_type": 8}}, "options.rate_type"),
        ({"method": "juhe_video_auth", "external_ref": "r"}, "realname"),
        ({"method": "tencent_idcard", "external_ref": "r", "realname": "张三"}, "idcard"),
        ({"method": "tencent_lip", "external_ref": "r", "options": {"actions": ["LookFront"]}}, "options"),
        ({"method": "tencent_lip", "external_ref": "r", "reference_photo": base64.b64encode(b"GIF89a" + b"0" * 20).decode()}, "reference_photo"),
        ({"method": "tencent_lip", "external_ref": "r", "reference_photo": "not base64!"}, "reference_photo"),
        ({"method": "tencent_lip", "external_ref": "r", "reference_photo": base64.b64encode(JPEG[:300]).decode()}, "reference_photo"),
        ({"method": "tencent_lip", "external_ref": "r", "reference_photo": base64.b64encode(make_jpeg(200, 150)).decode()}, "reference_photo"),
    ],
    ids=["liveness_type", "liveness_type_text", "rate_type", "identity", "idcard", "option", "gif", "not_base64",
         "cut_jpeg", "tiny_photo"],
)
def test_recorded_methods_refuse_what_their_vendor_would(client, alice, body, field):
    response = post(client, alice.key, body)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert VerificationSession.objects.count() == 0


def test_a_reference_photo_that_would_decode_to_392_mb_is_refused_from_its_header(client, alice):
    from tests.test_media import Cost

    bomb = base64.b64encode(make_png_declaring(7000, 7000, depth=16, colour=6)).decode()  # 508 kB of base64

    with Cost() as cost:
        response = post(client, alice.key, {"method": "tencent_lip", "external_ref": "r", "reference_photo": bomb})

    assert response.status_code == 400
    assert "too large to decode" in response.json()["error"]["fields"]["reference_photo"]
    assert VerificationSession.objects.count() == 0
    assert cost.cpu_seconds < 0.2 and cost.peak_growth_mb < 30


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_malformed_json_is_a_400(client, alice, body):
    response = post(client, alice.key, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


def test_a_form_body_is_a_415(client, alice):
    response = post(client, alice.key, "method=h5", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_a_body_over_the_limit_is_a_413(client, alice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post(client, alice.key, {"method": "h5", "external_ref": "r", "realname": "x" * 2000})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer wrong-key", "Basic abc", "kyc_abc"])
def test_without_a_valid_key_it_is_a_401(client, alice, header):
    response = client.post("/api/v1/sessions", data="{}", content_type="application/json", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_a_deactivated_client_is_locked_out(client, alice):
    alice.is_active = False
    alice.save()
    assert post(client, alice.key, {"method": "h5", "external_ref": "r"}).status_code == 401


def test_the_wrong_method_is_a_405_in_json(client, alice):
    response = client.get("/api/v1/sessions", HTTP_AUTHORIZATION=f"Bearer {alice.key}")
    assert response.status_code == 405
    assert response["Allow"] == "POST" and response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("path", ["/api/v1/sessions/not-a-uuid", "/api/v1/nothing", "/api/v2/sessions"])
def test_unknown_api_paths_are_json_404s(client, alice, path):
    response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {alice.key}")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"
