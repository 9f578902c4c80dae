"""The integration API, as a product team's backend uses it."""

import base64
import json

import pytest

from tests.support.media_samples import make_jpeg, make_png_declaring
from tests.support.factories import new_session
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
    session = new_session(
        client=alice, method="h5", external_ref="order-7", status="passed", passed=True, reason="passed",
        vendor_code="200", outcome_vendor="jumdata", attempts_used=1,
    )

    response = client.get(f"/api/v1/sessions/{session.pk}", HTTP_AUTHORIZATION=f"Bearer {alice.key}")

    assert response.status_code == 200
    body = response.json()
    assert body["result"] == {"passed": True, "reason": "passed", "vendor": "jumdata", "vendor_code": "200",
                              "scores": {}}
    assert (body["attempts_used"], body["attempts_left"], body["retry_allowed"]) == (1, 2, False)
    assert (body["id"], body["external_ref"], body["method"], body["status"], body["review_status"]) == (
        str(session.pk), "order-7", "h5", "passed", "not_needed",
    )
    assert body["completed_at"] is None and body["created_at"]
    assert response["Cache-Control"] == "no-store"


def test_charlie_cannot_see_alices_sessions(client, alice, charlie):
    session = new_session(client=alice, method="h5", external_ref="x")

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
    from tests.unit.test_media import Cost

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


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"method": "h5", "external_ref": "r", "options": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_001,
    ],
)
def test_json_nested_thousands_deep_is_a_400_not_a_crash(client, alice, body):
    response = post(client, alice.key, body)

    assert response.status_code == 400
    assert response.json()["error"] == {"code": "malformed_json", "message": "the body is nested too deeply"}
    assert VerificationSession.objects.count() == 0


IDENTITY = {"realname": "张三", "idcard": VALID_IDCARD}


@pytest.mark.parametrize(
    "field, value, problem",
    [
        ("method", 5, "must be a string"),
        ("method", ["h5"], "must be a string"),
        ("external_ref", 5, "must be a string"),
        ("external_ref", 0, "must be a string"),
        ("external_ref", False, "must be a string"),
        ("external_ref", [], "must be a string"),
        ("external_ref", {"id": "r"}, "must be a string"),
        ("external_ref", None, "required"),
        ("realname", 5, "must be a string"),
        ("realname", 0, "must be a string"),
        ("realname", False, "must be a string"),
        ("realname", ["张三"], "must be a string"),
        ("idcard", 110105194912310021, "must be a string"),
        ("idcard", 0, "must be a string"),
        ("reference_photo", 0, "must be a string"),
        ("reference_photo", False, "must be a string"),
        ("reference_photo", [], "must be a string"),
        ("return_url", 0, "must be a string"),
        ("return_url", ["https://shop.example/done"], "must be a string"),
        ("locale", 0, "must be a string"),
        ("locale", ["en"], "must be a string"),
        ("options", [], "must be an object"),
        ("options", 0, "must be an object"),
        ("options", False, "must be an object"),
        ("options", "fast", "must be an object"),
    ],
)
def test_a_value_of_the_wrong_type_is_named_as_such(client, alice, field, value, problem):
    body = {"method": "tencent_lip", "external_ref": "r", **IDENTITY, field: value}
    if field == "realname":
        body["method"] = "h5"  # a method where a name is allowed: the type is the only fault

    response = post(client, alice.key, body)

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {field: problem}
    assert VerificationSession.objects.count() == 0


def test_null_stands_for_an_optional_field_left_out(client, alice):
    optional = ("realname", "idcard", "reference_photo", "options", "return_url", "locale")
    response = post(client, alice.key, {"method": "h5", "external_ref": "r", **dict.fromkeys(optional)})

    assert response.status_code == 201, response.json()
    session = VerificationSession.objects.get()
    assert (session.realname, session.idcard, session.options, session.return_url) == ("", "", {}, "")


HIDDEN_CHARACTERS = [
    ("\x00", "U+0000"),  # NUL: PostgreSQL cannot even store it
    ("\x1b", "U+001B"),  # ESC: terminal escapes in whoever reads a log or a CSV
    ("\t", "U+0009"),
    ("\n", "U+000A"),
    ("\x7f", "U+007F"),
    ("\x85", "U+0085"),  # C1
    ("\x9b", "U+009B"),
    ("\u202e", "U+202E"),  # right-to-left override: "fer-redro" shown as "order-ref"
    ("\u202a", "U+202A"),
    ("\u2066", "U+2066"),  # bidi isolates
    ("\u2069", "U+2069"),
    ("\u200b", "U+200B"),  # zero-width space: two refs that look the same
    ("\u200f", "U+200F"),
    ("\ufeff", "U+FEFF"),
    ("\u00ad", "U+00AD"),  # soft hyphen
    ("\u2028", "U+2028"),  # line separator
    ("\U000e0041", "U+E0041"),  # a tag character: text no reader sees
    ("\ud800", "U+D800"),  # a lone surrogate: not storable as UTF-8
]


@pytest.mark.parametrize("field", ["external_ref", "realname", "return_url"])
@pytest.mark.parametrize("character, named", HIDDEN_CHARACTERS)
def test_control_and_invisible_characters_are_refused_naming_the_field(client, alice, field, character, named):
    text = {"external_ref": "order-42", "realname": "张三", "return_url": "https://shop.example/done"}[field]
    body = {"method": "h5", "external_ref": "r", **IDENTITY, field: text[:3] + character + text[3:]}

    response = post(client, alice.key, json.dumps(body))  # ASCII-escaped, as most JSON encoders send it

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        field: f"must not contain control or invisible formatting characters (found {named})"
    }
    assert VerificationSession.objects.count() == 0


@pytest.mark.parametrize("realname", ["阿卜杜·热合曼", "𠀾梅", "欧阳娜娜"])
def test_names_with_a_middle_dot_or_rare_characters_are_kept(client, alice, realname):
    response = post(client, alice.key, {"method": "h5", "external_ref": "r", "realname": realname, "idcard": VALID_IDCARD})

    assert response.status_code == 201, response.json()
    assert VerificationSession.objects.get().realname == realname


@pytest.mark.parametrize("idcard", ["440524188001010014", "11010130000101001X"])
def test_an_id_number_born_before_1900_or_in_the_future_is_refused(client, alice, idcard):
    from verification.platform.idcard import idcard_check_char

    idcard = idcard[:17] + idcard_check_char(idcard[:17])
    response = post(client, alice.key, {"method": "h5", "external_ref": "r", "realname": "张三", "idcard": idcard})

    assert response.status_code == 400
    assert "date of birth" in response.json()["error"]["fields"]["idcard"]


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
    response = client.delete("/api/v1/sessions", HTTP_AUTHORIZATION=f"Bearer {alice.key}")
    assert response.status_code == 405
    assert response["Allow"] == "GET, POST" and response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("path", ["/api/v1/sessions/not-a-uuid", "/api/v1/nothing", "/api/v2/sessions"])
def test_unknown_api_paths_are_json_404s(client, alice, path):
    response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {alice.key}")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"
