"""The Tencent legacy 人脸核身 sandbox, checked against the vendor document (002).

The signature below is written from the document (Sign = Base64(HMAC-SHA1(
SecretKey, original) + original), original = a=…&b=…&k=…&e=…&t=…&r=…&f=), not
taken from the portal's client, so a misreading in either shows up here. One
test drives Tencent's own legacy SDK (qcloud-image) against the sandbox.
"""

import base64
import hashlib
import hmac
import json
import random
import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sandbox.credentials import TENCENT_APP_ID, TENCENT_SECRET_ID, TENCENT_SECRET_KEY
from sandbox.models import JumdataTask, SteeredAnswer, TencentLipCode
from tests.support.media_samples import image_size, make_jpeg, make_png, video_bytes

pytestmark = pytest.mark.django_db

BASE = "/sandbox/tencent"
STEER = f"{BASE}/steer"
OTHER_APP_ID = "1250000001"
OTHER_SECRET_ID = "AKIDsandboxTencentNoFaceService00000"
OTHER_SECRET_KEY = "sandboxTencentNoFaceSecretKey000"
PASSING_ID = "11010519491231002X"
NAME = "张三"
MB = 1024 * 1024


# --- Media, made once for the module ---------------------------------------------


@pytest.fixture(scope="module")
def clips():
    def clip(name, **kwargs):
        # Cached across test modules: the same clip is encoded once per run.
        return video_bytes(**{"seconds": 2.5, **kwargs})

    good = clip("good")
    return {
        "good": good,
        "webm": clip("webm", container="webm", video_codec="libvpx-vp9", audio_codec="libopus"),
        "mp4-vp9": clip("mp4-vp9", video_codec="libvpx-vp9", audio_codec="libopus", fragmented=True),
        "flv": clip("flv", container="flv"),
        "avi": clip("avi", container="avi"),
        "mov": clip("mov", container="mov"),
        "small": clip("small", width=240, height=426),
        "landscape": clip("landscape", width=480, height=270),
        "narrow": clip("narrow", width=480, height=260),
        "no-audio": clip("no-audio", audio=None),
        "silent": clip("silent", audio="silence"),
        "tone": clip("tone", audio="tone"),
        "short": clip("short", seconds=0.6),
        "still": clip("still", moving=False),
        "truncated": good[: len(good) // 2],
        "truncated-fragmented": clip(
            "mp4-vp9", video_codec="libvpx-vp9", audio_codec="libopus", fragmented=True
        )[:-1000],
    }


@pytest.fixture(scope="module")
def jpeg():
    return make_jpeg()


GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"


# --- Client side, from the document --------------------------------------------------


def original(
    app_id=TENCENT_APP_ID,
    secret_id=TENCENT_SECRET_ID,
    *,
    bucket="",
    expires_in=600,
    now=None,
    rand=None,
    fileid="",
):
    now = int(time.time()) if now is None else now
    rand = random.randint(0, 9_999_999_999) if rand is None else rand
    return f"a={app_id}&b={bucket}&k={secret_id}&e={now + expires_in}&t={now}&r={rand}&f={fileid}"


def sign(text=None, secret_key=TENCENT_SECRET_KEY, **fields):
    text = original(**fields) if text is None else text
    digest = hmac.new(secret_key.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest + text.encode()).decode()


def post_json(client, endpoint, body, auth=None):
    auth = sign() if auth is None else auth
    return client.post(
        f"{BASE}/face/{endpoint}", json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=auth
    )


def post_form(client, endpoint, fields, auth=None):
    """A multipart request, as the Django test client encodes it: text fields
    as plain parts, SimpleUploadedFile values as file parts."""
    auth = sign() if auth is None else auth
    return client.post(f"{BASE}/face/{endpoint}", fields, HTTP_AUTHORIZATION=auth)


def upload(data, name="upload.bin"):
    return SimpleUploadedFile(name, data)


def lip_code(client):
    response = post_json(client, "livegetfour", {"appid": TENCENT_APP_ID})
    return response.json()["data"]["validate_data"]


def detect(client, video, *, compare=False, card=None, auth=None, **fields):
    params = {"appid": TENCENT_APP_ID, "compare_flag": "true" if compare else "false", "video": upload(video)}
    if "validate_data" not in fields:
        params["validate_data"] = lip_code(client)
    if card is not None:
        params["card"] = upload(card, "card.jpg")
    params.update(fields)
    return post_form(
        client, "livedetectfour", {k: v for k, v in params.items() if v is not None}, auth
    ).json()


def id_detect(client, video, *, number=PASSING_ID, name=NAME, **fields):
    params = {
        "appid": TENCENT_APP_ID,
        "validate_data": lip_code(client),
        "video": upload(video),
        "idcard_number": number,
        "idcard_name": name,
    }
    params.update(fields)
    return post_form(
        client, "idcardlivedetectfour", {k: v for k, v in params.items() if v is not None}
    ).json()


def compare(client, picture, *, number=PASSING_ID, name=NAME, **fields):
    params = {"appid": TENCENT_APP_ID, "idcard_number": number, "idcard_name": name, "image": upload(picture)}
    params.update(fields)
    return post_form(client, "idcardcompare", {k: v for k, v in params.items() if v is not None}).json()


def steer(client, **fields):
    response = client.post(STEER, fields)
    assert response.status_code == 201, response.content
    return response.json()


def assert_code(body, code, *words):
    assert body["code"] == code, body
    if code != 0:
        assert "data" not in body, body
    for word in words:
        assert word in body["message"], (word, body["message"])


def decoded_jpeg(text):
    data = base64.b64decode(text, validate=True)
    assert data[:3] == b"\xff\xd8\xff"
    return data


# --- livegetfour ------------------------------------------------------------------------------


def test_livegetfour_hands_out_four_digits_as_a_string(client):
    response = post_json(client, "livegetfour", {"appid": TENCENT_APP_ID, "seq": "req-1"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert list(body) == ["data", "code", "message"]
    assert body["code"] == 0 and body["message"] == "OK"
    value = body["data"]["validate_data"]
    assert isinstance(value, str) and len(value) == 4 and value.isdigit()
    assert TencentLipCode.objects.get(validate_data=value, app_id=TENCENT_APP_ID).seq == "req-1"


def test_livegetfour_takes_json_only(client):
    response = client.post(
        f"{BASE}/face/livegetfour", {"appid": TENCENT_APP_ID}, HTTP_AUTHORIZATION=sign()
    )  # multipart

    assert_code(response.json(), 3, "application/json")


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '"appid"'])
def test_a_body_that_is_not_a_json_object_is_a_bad_request(client, body):
    response = client.post(
        f"{BASE}/face/livegetfour", body, content_type="application/json", HTTP_AUTHORIZATION=sign()
    )

    assert_code(response.json(), 3)


def test_appid_must_be_a_json_string(client):
    assert_code(post_json(client, "livegetfour", {"appid": int(TENCENT_APP_ID)}).json(), 21, "JSON string")


def test_appid_is_required(client):
    assert_code(post_json(client, "livegetfour", {"seq": "x"}).json(), 21, "appid")


# --- livedetectfour ---------------------------------------------------------------------------


def test_livedetectfour_without_comparison_answers_liveness_only(client, clips):
    body = detect(client, clips["good"])

    assert_code(body, 0)
    assert body["data"] == {"live_status": 0, "live_msg": "OK"}


def test_livedetectfour_with_a_card_compares_and_returns_a_photo(client, clips, jpeg):
    body = detect(client, clips["good"], compare=True, card=jpeg, seq="abc")

    assert_code(body, 0)
    data = body["data"]
    assert list(data) == ["live_status", "live_msg", "compare_status", "compare_msg", "sim", "photo"]
    assert (data["live_status"], data["compare_status"], data["compare_msg"]) == (0, 0, "OK")
    assert data["sim"] == 90 and isinstance(data["sim"], int)
    assert image_size(decoded_jpeg(data["photo"])) == (480, 640)


def test_livedetectfour_accepts_a_png_card(client, clips):
    assert detect(client, clips["good"], compare=True, card=make_png(240, 320))["data"]["sim"] == 90


def test_compare_flag_true_needs_a_card(client, clips):
    assert_code(detect(client, clips["good"], compare=True), -5805, "card")


@pytest.mark.parametrize("flag", ["True", "1", "yes", ""])
def test_compare_flag_must_be_the_exact_strings(client, clips, flag):
    assert_code(detect(client, clips["good"], compare_flag=flag), 21, "compare_flag")


@pytest.mark.parametrize("card", [GIF, b"\xff\xd8\xff\xe0 truncated jpeg", b"plain text"])
def test_a_card_that_is_not_a_jpeg_or_png_is_a_card_decode_failure(client, clips, card):
    assert_code(detect(client, clips["good"], compare=True, card=card), -4018)


def test_a_video_sent_as_a_text_field_is_refused(client, clips):
    params = {
        "appid": TENCENT_APP_ID,
        "validate_data": lip_code(client),
        "compare_flag": "false",
        "video": "AAAA",
    }

    assert_code(post_form(client, "livedetectfour", params).json(), 21, "file part")


def test_a_missing_video_is_an_invalid_parameter(client):
    params = {"appid": TENCENT_APP_ID, "validate_data": lip_code(client), "compare_flag": "false"}

    assert_code(post_form(client, "livedetectfour", params).json(), 21, "video")


def test_a_repeated_parameter_is_refused(client, clips):
    params = {
        "appid": TENCENT_APP_ID,
        "validate_data": [lip_code(client), lip_code(client)],
        "compare_flag": "false",
        "video": upload(clips["good"]),
    }

    assert_code(post_form(client, "livedetectfour", params).json(), 21, "2 times")


def test_the_video_endpoints_take_multipart_only(client):
    body = post_json(client, "livedetectfour", {"appid": TENCENT_APP_ID, "validate_data": "1234"}).json()

    assert_code(body, 3, "multipart/form-data")


# --- validate_data ------------------------------------------------------------------------------


def test_a_validate_data_never_issued_is_refused(client, clips):
    issued = lip_code(client)
    other = f"{(int(issued) + 1) % 10000:04d}"

    assert_code(detect(client, clips["good"], validate_data=other), 21, "not issued")


@pytest.mark.parametrize("value", ["123", "12345", "12a4", "１２３４"])
def test_a_validate_data_that_is_not_four_digits_is_refused(client, clips, value):
    assert_code(detect(client, clips["good"], validate_data=value), 21, "4 digits")


def test_a_validate_data_is_used_up_by_a_verdict(client, clips):
    code = lip_code(client)
    assert_code(detect(client, clips["good"], validate_data=code), 0)

    assert_code(detect(client, clips["good"], validate_data=code), 21, "already used")


def test_a_refused_video_leaves_the_validate_data_usable(client, clips):
    code = lip_code(client)
    assert_code(detect(client, clips["no-audio"], validate_data=code), -5007)

    assert_code(detect(client, clips["good"], validate_data=code), 0)


def test_a_validate_data_expires(client, clips, settings):
    settings.SANDBOX_TENCENT_VALIDATE_DATA_TTL = 60
    code = lip_code(client)
    issued = TencentLipCode.objects.get(validate_data=code)
    TencentLipCode.objects.filter(pk=issued.pk).update(created_at=issued.created_at - timedelta(seconds=61))

    assert_code(detect(client, clips["good"], validate_data=code), 21, "expired")


def test_a_validate_data_of_another_appid_is_not_accepted(client, clips):
    code = lip_code(client)
    TencentLipCode.objects.filter(validate_data=code).update(app_id=OTHER_APP_ID)

    assert_code(detect(client, clips["good"], validate_data=code), 21, "not issued")


# --- Video checks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mp4-vp9", "flv", "avi", "mov", "landscape"])
def test_accepted_videos(client, clips, name):
    assert_code(detect(client, clips[name]), 0)


@pytest.mark.parametrize(
    "name, code, word",
    [
        ("webm", -5001, "webm"),
        ("short", -5001, "at least 1 s"),
        ("truncated", -5001, "truncated"),
        ("truncated-fragmented", -5001, "truncated"),
        ("small", -5015, "240x426"),
        ("narrow", -5015, "480x260"),
        ("no-audio", -5007, "no audio"),
        ("silent", -5013, "silent"),
    ],
)
def test_refused_videos(client, clips, name, code, word):
    assert_code(detect(client, clips[name]), code, word)


def test_a_steady_tone_is_loud_enough(client, clips):
    assert_code(detect(client, clips["tone"]), 0)


@pytest.mark.parametrize("data", [b"not a video at all" * 100, make_jpeg()], ids=["text", "jpeg"])
def test_something_that_is_not_a_video_is_refused(client, data):
    assert_code(detect(client, data), -5001)


def test_a_still_picture_turned_into_a_video_is_not_live(client, clips, jpeg):
    body = detect(client, clips["still"], compare=True, card=jpeg)

    assert_code(body, 0)
    assert body["data"]["live_status"] == -5016
    assert body["data"]["compare_status"] == -5016
    assert "sim" not in body["data"] and "photo" not in body["data"]


def test_a_video_over_three_megabytes_is_too_large(client, clips):
    padded = clips["good"] + b"\0" * (3 * MB + 1 - len(clips["good"]))

    assert_code(detect(client, padded), 23, "3 MB")


def test_a_body_over_six_megabytes_is_too_large(client):
    response = client.post(
        f"{BASE}/face/livedetectpicture",
        {"appid": TENCENT_APP_ID, "image": upload(b"\xff" * (6 * MB + 1))},
        HTTP_AUTHORIZATION=sign(),
    )

    assert_code(response.json(), 23, "6 MB")


# --- idcardlivedetectfour ---------------------------------------------------------------------------


def test_idcardlivedetectfour_compares_with_the_registry_photo(client, clips):
    body = id_detect(client, clips["good"], seq="s-1")

    assert_code(body, 0)
    data = body["data"]
    assert list(data) == ["live_status", "live_msg", "compare_status", "compare_msg", "sim", "video_photo"]
    assert data["sim"] == 90
    decoded_jpeg(data["video_photo"])


@pytest.mark.parametrize(
    "number, name, status",
    [
        ("110105199001010010", NAME, -5804),
        ("11010519850505002X", NAME, -5809),
        ("110105197808080037", NAME, -5817),
        (PASSING_ID, "张不符", -5803),
    ],
)
def test_test_identities_fail_the_comparison(client, clips, number, name, status):
    body = id_detect(client, clips["good"], number=number, name=name)

    assert_code(body, 0)
    assert body["data"]["live_status"] == 0
    assert body["data"]["compare_status"] == status
    assert "sim" not in body["data"] and "video_photo" not in body["data"]


def test_the_low_similarity_name_is_compared_with_a_low_sim(client, clips):
    data = id_detect(client, clips["good"], name="李不像")["data"]

    assert (data["compare_status"], data["sim"]) == (0, 35)


@pytest.mark.parametrize(
    "number, name, code",
    [
        (None, NAME, -5801),
        (PASSING_ID, "", -5801),
        ("110105194912310021", NAME, -5806),  # wrong check digit
        ("11010519491231002x", NAME, -5806),  # lower-case x
        ("11010519491331002X", NAME, -5806),  # month 13 (check digit recomputed below)
        (PASSING_ID, "Zhang San", -5806),
        (PASSING_ID, "张", -5806),
    ],
)
def test_identity_parameters_are_checked(client, clips, number, name, code):
    if number == "11010519491331002X":
        weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
        body17 = number[:17]
        number = body17 + "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights)) % 11]
    assert_code(id_detect(client, clips["good"], number=number, name=name), code)


def test_a_minority_name_with_a_middle_dot_is_accepted(client, clips):
    assert_code(id_detect(client, clips["good"], name="阿卜杜热西提·阿卜杜热合曼"), 0)


# --- idcardcompare ------------------------------------------------------------------------------------


def test_idcardcompare_with_an_image_part(client, jpeg):
    body = compare(client, jpeg, session_id="sess-9")

    assert_code(body, 0)
    assert body["data"] == {"similarity": 92.0, "session_id": "sess-9"}


def test_idcardcompare_answers_an_empty_session_id_when_none_is_given(client, jpeg):
    assert compare(client, jpeg)["data"]["session_id"] == ""


@pytest.mark.parametrize(
    "number, name, code",
    [
        ("110105199001010010", NAME, -5804),
        ("11010519850505002X", NAME, -5809),
        ("110105197808080037", NAME, -5817),
        (PASSING_ID, "张不符", -5803),
    ],
)
def test_idcardcompare_answers_identity_failures_as_the_code(client, jpeg, number, name, code):
    assert_code(compare(client, jpeg, number=number, name=name), code)


def test_idcardcompare_low_similarity(client, jpeg):
    assert compare(client, jpeg, name="李不像")["data"]["similarity"] == 35.0


@pytest.mark.parametrize("picture", [GIF, b"\x89PNG\r\n\x1a\ncut", b"base64 text, not a picture"])
def test_idcardcompare_refuses_a_picture_it_cannot_decode(client, picture):
    assert_code(compare(client, picture), -4011)


def test_idcardcompare_without_a_picture(client):
    assert_code(compare(client, b"", image=None), -5805)


@pytest.mark.django_db(transaction=True)
def test_idcardcompare_downloads_a_url_such_as_jumdatas_face_image(client, live_server):
    task = JumdataTask.objects.create(
        token="t" * 40,
        app_id="a",
        init_task_no="1",
        return_url="https://x.example/",
        face_token="face-abc",
        outcome=JumdataTask.Outcome.PASS,
    )
    url = f"{live_server.url}/sandbox/jumdata/face/{task.face_token}.jpg"

    body = post_json(
        client,
        "idcardcompare",
        {"appid": TENCENT_APP_ID, "idcard_number": PASSING_ID, "idcard_name": NAME, "url": url},
    ).json()

    assert_code(body, 0)
    assert body["data"]["similarity"] == 92.0


@pytest.mark.django_db(transaction=True)
def test_idcardcompare_answers_5805_when_the_url_cannot_be_downloaded(client, live_server):
    for url in (
        f"{live_server.url}/sandbox/jumdata/face/missing.jpg",
        "http://127.0.0.1:9/x.jpg",
        "ftp://x/y.jpg",
    ):
        body = post_json(
            client,
            "idcardcompare",
            {"appid": TENCENT_APP_ID, "idcard_number": PASSING_ID, "idcard_name": NAME, "url": url},
        ).json()
        assert_code(body, -5805, "url")


@pytest.mark.django_db(transaction=True)
def test_the_url_wins_over_the_image(client, live_server):
    url = f"{live_server.url}/static/sandbox/jumdata-face.jpg"

    body = compare(client, GIF, url=url)

    assert_code(body, 0)


# --- livedetectpicture --------------------------------------------------------------------------------


def test_livedetectpicture_scores_a_portrait_photo(client, jpeg):
    body = post_form(client, "livedetectpicture", {"appid": TENCENT_APP_ID, "image": upload(jpeg)}).json()

    assert_code(body, 0)
    assert body["data"] == {"score": 95}


def test_livedetectpicture_scores_zero_far_from_three_by_four(client):
    body = post_form(
        client, "livedetectpicture", {"appid": TENCENT_APP_ID, "image": upload(make_png(640, 480))}
    )

    assert body.json()["data"] == {"score": 0}


@pytest.mark.django_db(transaction=True)
def test_livedetectpicture_downloads_a_url(client, live_server):
    url = f"{live_server.url}/static/sandbox/jumdata-face.jpg"

    body = post_json(client, "livedetectpicture", {"appid": TENCENT_APP_ID, "url": url}).json()

    assert body == {"data": {"score": 95}, "code": 0, "message": "OK"}


def test_livedetectpicture_refuses_a_gif(client):
    body = post_form(client, "livedetectpicture", {"appid": TENCENT_APP_ID, "image": upload(GIF)}).json()

    assert_code(body, -4016, "GIF")


# --- Signature ----------------------------------------------------------------------------------------


def call_with(client, auth, body=None):
    return post_json(client, "livegetfour", body or {"appid": TENCENT_APP_ID}, auth=auth).json()


def sign_until(predicate, **fields):
    for _ in range(200):
        value = sign(**fields)
        if predicate(value):
            return value
    raise AssertionError("no signature matched")


def test_a_missing_signature_is_code_4(client):
    response = client.post(
        f"{BASE}/face/livegetfour", json.dumps({"appid": TENCENT_APP_ID}), content_type="application/json"
    )

    assert_code(response.json(), 4)


def test_an_empty_signature_is_code_4(client):
    assert_code(call_with(client, "   "), 4)


@pytest.mark.parametrize(
    "make",
    [
        lambda: "not base64 at all!",
        lambda: sign_until(lambda s: "+" in s or "/" in s).replace("+", "-").replace("/", "_"),
        lambda: sign_until(lambda s: s.endswith("=")).rstrip("="),
        lambda: base64.b64encode(b"0123456789").decode(),
        lambda: "Bearer " + sign(),
    ],
    ids=["garbage", "urlsafe", "no-padding", "too-short", "bearer-prefix"],
)
def test_an_undecodable_signature_is_code_5(client, make):
    assert_code(call_with(client, make()), 5)


def now():
    return int(time.time())


SIGNED = f"a={TENCENT_APP_ID}&b=&k={TENCENT_SECRET_ID}"


@pytest.mark.parametrize(
    "make, word",
    [
        (
            lambda n: f"a={TENCENT_APP_ID}&b=&k={TENCENT_SECRET_ID}&t={n}&e={n + 600}&r=1&f=",
            "order",
        ),  # Java sample
        (lambda n: f"a={TENCENT_APP_ID}&k={TENCENT_SECRET_ID}&e={n + 600}&t={n}&r=1&f=", "order"),  # no b
        (lambda n: f"{SIGNED}&e={n + 600}&t={n}&r=12345678901&f=", "10 digits"),
        (lambda n: f"{SIGNED}&e={n + 600}&t={n}&r=-5&f=", "unsigned"),
        (lambda n: f"{SIGNED}&e=0&t={n}&r=1&f=", "later than t"),
        (lambda n: f"{SIGNED}&e={n + 2000}&t={n + 1000}&r=1&f=", "future"),
        (lambda n: f"{SIGNED}&e={n + 91 * 86400}&t={n}&r=1&f=", "90 days"),
        (lambda n: f"{SIGNED}&e={n + 60}&t=1.5e9&r=1&f=", "UNIX time"),
        (lambda n: f"{SIGNED}&e={n + 60}&t={n}&r=1&f=&x=1", "order"),
    ],
    ids=[
        "java-order",
        "no-b",
        "long-r",
        "signed-r",
        "e-zero",
        "t-future",
        "too-long",
        "t-float",
        "extra-field",
    ],
)
def test_a_malformed_signed_text_is_code_5(client, make, word):
    # The text is made when the test runs, not when it is collected.
    assert_code(call_with(client, sign(make(now()))), 5, word)


def test_f_may_be_left_out(client):
    text = f"a={TENCENT_APP_ID}&b=&k={TENCENT_SECRET_ID}&e={now() + 600}&t={now()}&r=7"

    assert_code(call_with(client, sign(text)), 0)


def test_an_expired_signature_is_code_9(client):
    assert_code(call_with(client, sign(now=now() - 1000, expires_in=990)), 9, "expired")


def test_an_unknown_appid_is_code_10(client):
    auth = sign(app_id="1259999999")

    assert_code(call_with(client, auth, {"appid": "1259999999"}), 10)


def test_an_unknown_secret_id_is_code_11(client):
    assert_code(call_with(client, sign(secret_id="AKIDnobody")), 11)


def test_a_secret_id_of_another_appid_is_code_12(client):
    assert_code(call_with(client, sign(secret_id=OTHER_SECRET_ID, secret_key=OTHER_SECRET_KEY)), 12)


def test_a_wrong_secret_key_is_code_14(client):
    assert_code(call_with(client, sign(secret_key="guess")), 14, "HMAC")


def test_an_appid_other_than_the_signatures_is_code_6(client):
    assert_code(call_with(client, sign(), {"appid": OTHER_APP_ID}), 6)


def test_a_bucket_field_other_than_the_signatures_is_code_6(client):
    assert_code(call_with(client, sign(), {"appid": TENCENT_APP_ID, "bucket": "tencentyun"}), 6, "bucket")


def test_a_fileid_in_the_signature_is_code_6(client):
    assert_code(call_with(client, sign(fileid="tencentyunSignTest")), 6, "fileid")


def test_an_unknown_bucket_is_code_16(client):
    auth = sign(bucket="tencentyun")

    assert_code(call_with(client, auth, {"appid": TENCENT_APP_ID, "bucket": "tencentyun"}), 16)


def test_an_account_without_the_service_is_code_24(client):
    auth = sign(app_id=OTHER_APP_ID, secret_id=OTHER_SECRET_ID, secret_key=OTHER_SECRET_KEY)

    assert_code(call_with(client, auth, {"appid": OTHER_APP_ID}), 24)


def test_a_signature_may_be_used_again_until_it_expires(client):
    auth = sign()

    assert_code(call_with(client, auth), 0)
    assert_code(call_with(client, auth), 0)


def test_the_signature_is_checked_before_the_body(client):
    response = client.post(f"{BASE}/face/livedetectfour", "garbage", content_type="text/plain")

    assert_code(response.json(), 4)


# --- Transport -----------------------------------------------------------------------------------------


def test_a_get_is_answered_405_with_code_3(client):
    response = client.get(f"{BASE}/face/livegetfour")

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert_code(response.json(), 3, "POST")


@pytest.mark.parametrize("path", [f"{BASE}/face/livegetfour/", f"{BASE}/face/nothing", BASE])
def test_an_unknown_path_is_a_404_with_code_3(client, path):
    response = client.post(path, "{}", content_type="application/json", HTTP_AUTHORIZATION=sign())

    assert response.status_code == 404
    assert_code(response.json(), 3)


# --- Steering ---------------------------------------------------------------------------------------------


def test_a_steered_code_answers_the_next_call_only(client, clips):
    queued = steer(client, endpoint="livedetectfour", code="-5002")
    assert queued == {"queued": {"code": -5002}, "endpoint": "livedetectfour", "pending": 1}

    assert_code(detect(client, clips["good"]), -5002, "唇语失败")
    assert_code(detect(client, clips["good"]), 0)


def test_a_steered_code_also_uses_up_the_validate_data(client, clips):
    steer(client, endpoint="livedetectfour", code="-5008")
    code = lip_code(client)
    assert_code(detect(client, clips["good"], validate_data=code), -5008)

    assert_code(detect(client, clips["good"], validate_data=code), 21, "already used")


@pytest.mark.parametrize("status", [-5002, -5008, -5010, -5016])
def test_a_steered_live_status_is_a_liveness_failure_with_code_0(client, clips, jpeg, status):
    steer(client, endpoint="livedetectfour", live_status=str(status))

    body = detect(client, clips["good"], compare=True, card=jpeg)

    assert_code(body, 0)
    assert body["data"]["live_status"] == status
    assert body["data"]["compare_status"] == status
    assert body["data"]["live_msg"] == body["data"]["compare_msg"]
    assert "sim" not in body["data"]


def test_a_steered_comparison(client, clips, jpeg):
    steer(client, endpoint="livedetectfour", compare_status="-4010")
    steer(client, endpoint="livedetectfour", sim="42")

    first = detect(client, clips["good"], compare=True, card=jpeg)["data"]
    second = detect(client, clips["good"], compare=True, card=jpeg)["data"]

    assert (first["live_status"], first["compare_status"]) == (0, -4010)
    assert "sim" not in first and "photo" not in first
    assert (second["compare_status"], second["sim"]) == (0, 42)


def test_a_steered_comparison_overrides_the_identity(client, clips):
    steer(client, endpoint="idcardlivedetectfour", sim="77")

    data = id_detect(client, clips["good"], name="张不符")["data"]

    assert (data["compare_status"], data["sim"]) == (0, 77)


def test_a_bad_request_does_not_consume_the_steered_answer(client, clips):
    steer(client, endpoint="livedetectfour", code="-5016")
    assert_code(detect(client, clips["good"], auth=sign(secret_key="wrong")), 14)
    assert_code(detect(client, clips["webm"]), -5001)

    assert_code(detect(client, clips["good"]), -5016)


def test_steering_the_other_endpoints(client, jpeg):
    steer(client, endpoint="livegetfour", code="15")
    steer(client, endpoint="idcardcompare", similarity="61.5")
    steer(client, endpoint="livedetectpicture", score="12")

    assert_code(post_json(client, "livegetfour", {"appid": TENCENT_APP_ID}).json(), 15)
    assert compare(client, jpeg, name="张不符")["data"]["similarity"] == 61.5
    picture = post_form(client, "livedetectpicture", {"appid": TENCENT_APP_ID, "image": upload(jpeg)}).json()
    assert picture["data"]["score"] == 12


@pytest.mark.parametrize(
    "fields, word",
    [
        ({"endpoint": "nothing", "code": "-5002"}, "endpoint"),
        ({"endpoint": "livedetectfour"}, "give code"),
        ({"endpoint": "livedetectfour", "code": "0"}, "documented"),
        ({"endpoint": "livedetectfour", "code": "-9999"}, "documented"),
        ({"endpoint": "livedetectfour", "live_status": "7"}, "documented"),
        ({"endpoint": "livedetectfour", "sim": "101"}, "between"),
        ({"endpoint": "livedetectfour", "similarity": "50"}, "cannot be steered"),
        ({"endpoint": "livedetectfour", "code": "-5002", "sim": "50"}, "alone"),
        ({"endpoint": "livedetectfour", "live_status": "-5002", "sim": "50"}, "not run"),
        ({"endpoint": "idcardcompare", "similarity": "abc"}, "number"),
    ],
)
def test_invalid_steering_is_refused(client, fields, word):
    response = client.post(STEER, fields)

    assert response.status_code == 400
    assert word in response.json()["error"]
    assert not SteeredAnswer.objects.exists()


def test_a_steered_answer_dies_unused(client, clips, settings):
    settings.SANDBOX_STEER_TTL = 30
    steer(client, endpoint="livedetectfour", code="-5002")
    SteeredAnswer.objects.update(created_at=SteeredAnswer.objects.get().created_at - timedelta(seconds=31))

    assert_code(detect(client, clips["good"]), 0)


def test_steered_answers_can_be_cleared(client, clips):
    steer(client, endpoint="livedetectfour", code="-5002")
    steer(client, endpoint="livegetfour", code="15")

    assert client.post(STEER, {"action": "clear", "endpoint": "livedetectfour"}).json() == {"cleared": 1}
    assert SteeredAnswer.objects.get().endpoint == "livegetfour"
    assert client.post(STEER, {"action": "clear"}).json() == {"cleared": 1}
    assert_code(detect(client, clips["good"]), 0)


def test_the_steering_page_lists_identities_and_the_queue(client):
    steer(client, endpoint="idcardcompare", code="-5803")

    page = client.get(STEER).content.decode()

    assert "SANDBOX" in page
    for value in ("110105199001010010", "11010519850505002X", "110105197808080037", "张不符", "李不像"):
        assert value in page
    assert "-5803" in page and "idcardcompare" in page


# --- Tencent's own SDK ----------------------------------------------------------------------------------


@pytest.fixture
def qcloud(live_server, settings, monkeypatch):
    """qcloud-image's Client, pointed at the live server (it sends
    Host: service.image.myqcloud.com, which Django must allow)."""
    from qcloud_image import Client
    from qcloud_image.conf import Conf

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "service.image.myqcloud.com"]
    monkeypatch.setattr(Conf, "build_url", lambda self, uri: f"{live_server.url}{BASE}/{uri.lstrip('/')}")
    return Client(TENCENT_APP_ID, TENCENT_SECRET_ID, TENCENT_SECRET_KEY, "")


@pytest.mark.django_db(transaction=True)
def test_the_qcloud_image_sdk_is_accepted(qcloud, clips, jpeg, tmp_path):
    from qcloud_image import CIBuffer, CIFile

    video = tmp_path / "video.mp4"
    video.write_bytes(clips["good"])
    card = tmp_path / "card.jpg"
    card.write_bytes(jpeg)

    issued = qcloud.face_livegetfour(seq="sdk-1")
    assert issued["code"] == 0, issued
    live = qcloud.face_livedetectfour(
        issued["data"]["validate_data"], CIFile(str(video)), True, CIFile(str(card))
    )
    assert live["code"] == 0, live
    assert (live["data"]["live_status"], live["data"]["compare_status"], live["data"]["sim"]) == (0, 0, 90)

    again = qcloud.face_livegetfour()
    only_live = qcloud.face_livedetectfour(again["data"]["validate_data"], CIBuffer(clips["good"]), False)
    assert only_live["data"] == {"live_status": 0, "live_msg": "OK"}

    third = qcloud.face_livegetfour()
    identity = qcloud.face_idcardlivedetectfour(
        third["data"]["validate_data"], CIBuffer(clips["good"]), "110105199001010010", NAME
    )
    assert identity["data"]["compare_status"] == -5804

    compared = qcloud.face_idcardcompare(PASSING_ID, NAME, CIBuffer(jpeg))
    assert compared["data"]["similarity"] == 92.0
