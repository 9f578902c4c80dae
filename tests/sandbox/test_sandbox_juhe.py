"""The Juhe sandbox (face_vedio/verify, videoAuth/query), checked against the
vendor documents 000 and 001, written from them and not from the portal's
client, so a misreading in either shows up here."""

import base64
import re
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import pytest
import requests

from sandbox.credentials import JUHE_VIDEO_AUTH_KEY, JUHE_VIDEO_KEY
from sandbox.models import JuhePicture, SteeredAnswer
from tests.support.http_double import HttpDouble, slow
from tests.support.media_samples import image_size, make_jpeg, video_bytes

pytestmark = pytest.mark.django_db

BASE = "/sandbox/juhe"
VERIFY = f"{BASE}/face_vedio/verify"
QUERY = f"{BASE}/videoAuth/query"
STEER = f"{BASE}/steer"
FORM = "application/x-www-form-urlencoded"
MB = 1024 * 1024
PASSING_ID = "11010519491231002X"


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
        "no-audio": clip("no-audio", audio=None),
        "silent": clip("silent", audio="silence"),
        "short": clip("short", seconds=1.5),
        "still": clip("still", moving=False),
        "truncated": good[: len(good) // 2],
    }


def b64(data):
    return base64.b64encode(data).decode()


def post(client, path, params):
    return client.post(path, urlencode({k: v for k, v in params.items() if v is not None}), content_type=FORM)


def verify(client, video=None, **params):
    params.setdefault("key", JUHE_VIDEO_KEY)
    if video is not None:
        params.setdefault("videoBase64", b64(video))
    response = post(client, VERIFY, params)
    assert response.status_code == 200
    return response.json()


def query(client, video=None, **params):
    params.setdefault("key", JUHE_VIDEO_AUTH_KEY)
    params.setdefault("realname", "张三")
    params.setdefault("idcard", PASSING_ID)
    if video is not None:
        params.setdefault("videoData", "base64:" + b64(video))
    response = post(client, QUERY, params)
    assert response.status_code == 200
    return response.json()


def assert_error(body, code, *words):
    assert body["error_code"] == code, body
    assert body["result"] is None, body
    for word in words:
        assert word in body["reason"], (word, body["reason"])


def steer(client, **fields):
    response = client.post(STEER, fields)
    assert response.status_code == 201, response.content
    return response.json()


def jpeg_from(text):
    data = base64.b64decode(text, validate=True)
    assert data[:3] == b"\xff\xd8\xff"
    return data


# --- face_vedio/verify ---------------------------------------------------------------------


def test_verify_passes_a_good_video(client, clips):
    response = post(client, VERIFY, {"key": JUHE_VIDEO_KEY, "videoBase64": b64(clips["good"])})

    assert response["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert list(body) == ["reason", "result", "error_code"]
    assert (body["error_code"], body["reason"]) == (0, "成功")
    assert list(body["result"]) == ["orderid"]
    assert re.fullmatch(r"JH802[0-9]{12}[A-Za-z0-9]{5}", body["result"]["orderid"])


def test_verify_returns_best_frames_under_res(client, clips):
    body = verify(client, clips["good"], bestBase64="1", bestFrameNum="3")

    assert body["error_code"] == 0
    res = body["result"]["res"]
    assert set(res) == {"bestBase64", "bestList"}
    assert image_size(jpeg_from(res["bestBase64"])) == (480, 640)
    assert len(res["bestList"]) == 3
    assert len({text for text in res["bestList"]}) == 3
    for text in res["bestList"]:
        jpeg_from(text)


def test_verify_can_put_best_frames_directly_under_result(client, clips, settings):
    settings.SANDBOX_JUHE_BEST_FRAMES_LAYOUT = "result"

    result = verify(client, clips["good"], bestBase64="1", bestFrameNum="2")["result"]

    assert set(result) == {"orderid", "bestBase64", "bestList"}
    assert len(result["bestList"]) == 2


def test_verify_returns_only_what_was_asked_for(client, clips):
    assert set(verify(client, clips["good"], bestBase64="1")["result"]["res"]) == {"bestBase64"}
    assert set(verify(client, clips["good"], bestFrameNum="10")["result"]["res"]) == {"bestList"}
    assert len(verify(client, clips["good"], bestFrameNum="10")["result"]["res"]["bestList"]) == 10


@pytest.mark.parametrize("value", ["0", "2", "true", ""])
def test_best_base64_other_than_1_returns_nothing(client, clips, value):
    assert list(verify(client, clips["good"], bestBase64=value)["result"]) == ["orderid"]


@pytest.mark.parametrize("value", ["1", "11", "abc", "", "3.0", "-2"])
def test_best_frame_num_outside_2_to_10_is_refused(client, clips, value):
    assert_error(verify(client, clips["good"], bestFrameNum=value), 280210)


@pytest.mark.parametrize("mode", ["3", "", "x", " 0"])
def test_an_unknown_liveness_type_is_refused(client, clips, mode):
    assert_error(verify(client, clips["good"], livenessType=mode), 280208, "livenessType")


@pytest.mark.parametrize(
    "value, code", [("0123", 0), ("123", 280206), ("12345", 280206), ("abcd", 280206), (None, 280206)]
)
def test_digit_mode_needs_four_digits(client, clips, value, code):
    assert verify(client, clips["good"], livenessType="1", validateData=value)["error_code"] == code


@pytest.mark.parametrize(
    "value, code", [("1,2", 0), ("2,1", 0), ("1, 2", 280207), ("1,1", 280207), ("12", 280207), (None, 280207)]
)
def test_action_mode_needs_an_action_order(client, clips, value, code):
    assert verify(client, clips["good"], livenessType="2", validateData=value)["error_code"] == code


def test_silent_mode_ignores_validate_data(client, clips):
    assert verify(client, clips["good"], livenessType="0", validateData="anything")["error_code"] == 0


def test_a_missing_video_is_280202(client):
    assert_error(verify(client), 280202)
    assert_error(verify(client, videoBase64="", videoUrl=""), 280202)


@pytest.mark.parametrize(
    "make",
    [
        lambda text: text.replace("+", "-").replace("/", "_"),
        lambda text: text.rstrip("="),
        lambda text: "data:video/mp4;base64," + text,
        lambda text: "\n".join(text[i : i + 76] for i in range(0, len(text), 76)),
    ],
    ids=["urlsafe", "no-padding", "data-prefix", "line-breaks"],
)
def test_a_video_that_is_not_standard_base64_is_280223(client, clips, make):
    text = b64(clips["good"])
    assert "+" in text and "/" in text and text.endswith("=")

    assert_error(verify(client, videoBase64=make(text)), 280223)


def test_an_unescaped_plus_sign_breaks_the_base64(client, clips):
    body = f"key={JUHE_VIDEO_KEY}&videoBase64={b64(clips['good'])}"  # "+" read as a space

    assert_error(client.post(VERIFY, body, content_type=FORM).json(), 280223)


def test_a_base64_video_over_eight_megabytes_is_280236(client):
    assert_error(verify(client, videoBase64="A" * (8 * MB + 4)), 280236, "8 MB")


@pytest.mark.parametrize("name", ["mp4-vp9", "flv", "avi"])
def test_accepted_containers(client, clips, name):
    assert verify(client, clips[name])["error_code"] == 0


@pytest.mark.parametrize("name", ["webm", "mov", "truncated"])
def test_refused_containers_and_broken_files(client, clips, name):
    assert_error(verify(client, clips[name]), 280237)


@pytest.mark.parametrize("data", [b"not a video" * 50, make_jpeg()], ids=["text", "jpeg"])
def test_something_that_is_not_a_video_is_280237(client, data):
    assert_error(verify(client, data), 280237)


def test_a_video_under_two_seconds_is_267549(client, clips):
    assert_error(verify(client, clips["short"]), 267549)


@pytest.mark.parametrize("name", ["no-audio", "silent"])
def test_digit_mode_needs_audible_speech(client, clips, name):
    assert_error(verify(client, clips[name], livenessType="1", validateData="4821"), 280240)


@pytest.mark.parametrize("mode, validate", [("0", None), ("2", "1,2")])
def test_silent_and_action_modes_need_no_sound(client, clips, mode, validate):
    assert verify(client, clips["no-audio"], livenessType=mode, validateData=validate)["error_code"] == 0
    assert verify(client, clips["silent"], livenessType=mode, validateData=validate)["error_code"] == 0


def test_a_still_picture_turned_into_a_video_is_280244(client, clips):
    assert_error(verify(client, clips["still"]), 280244)


# --- videoUrl -----------------------------------------------------------------------------------


@pytest.fixture
def video_host():
    with HttpDouble() as double:
        yield double


def serve(double, status, body, content_type="video/mp4"):
    double.respond = lambda request: (status, {"Content-Type": content_type}, body)


def test_verify_downloads_a_video_url(client, clips, video_host):
    serve(video_host, 200, clips["good"])

    body = verify(client, videoUrl=f"{video_host.url}/clip.mp4", bestBase64="1")

    assert body["error_code"] == 0
    assert [request.path for request in video_host.requests] == ["/clip.mp4"]


def test_video_base64_wins_over_video_url(client, clips, video_host):
    body = verify(client, clips["good"], videoUrl=f"{video_host.url}/clip.mp4")

    assert body["error_code"] == 0
    assert video_host.requests == []


def test_a_video_url_that_fails_is_280224(client, video_host):
    serve(video_host, 404, b"missing")

    assert_error(verify(client, videoUrl=f"{video_host.url}/clip.mp4"), 280224)
    assert_error(verify(client, videoUrl="ftp://example.com/clip.mp4"), 280224)
    assert_error(verify(client, videoUrl="http://127.0.0.1:9/clip.mp4"), 280224)


def test_a_slow_video_url_is_280225(client, clips, video_host, settings):
    settings.SANDBOX_JUHE_DOWNLOAD_TIMEOUT = 0.3
    video_host.respond = slow(1.0, lambda request: (200, {}, clips["good"]))

    assert_error(verify(client, videoUrl=f"{video_host.url}/clip.mp4"), 280225)


def test_a_video_url_over_six_megabytes_is_280236(client, video_host):
    serve(video_host, 200, b"\0" * (6 * MB + 1))

    assert_error(verify(client, videoUrl=f"{video_host.url}/clip.mp4"), 280236)


# --- Keys and transport ------------------------------------------------------------------------------


@pytest.mark.parametrize("path, other_key", [(VERIFY, JUHE_VIDEO_AUTH_KEY), (QUERY, JUHE_VIDEO_KEY)])
def test_keys(client, path, other_key):
    assert_error(post(client, path, {"realname": "张三"}).json(), 10001)
    assert_error(post(client, path, {"key": ""}).json(), 10001)
    assert_error(post(client, path, {"key": "guess"}).json(), 10001)
    assert_error(post(client, path, {"key": other_key}).json(), 10002)


@pytest.mark.parametrize("path, code", [(VERIFY, 280208), (QUERY, 2546101)])
def test_requests_that_are_not_forms_are_refused(client, path, code):
    key = JUHE_VIDEO_KEY if path == VERIFY else JUHE_VIDEO_AUTH_KEY
    assert_error(
        client.post(path, {"key": key}, content_type="application/json").json(), code, "Content-Type"
    )
    assert_error(client.post(path, {"key": key}).json(), code, "Content-Type")  # multipart
    assert_error(client.post(f"{path}?key={key}", "a=b", content_type=FORM).json(), code, "query string")
    assert_error(client.post(path, f"key={key}&key={key}", content_type=FORM).json(), code, "key is given 2 times")


def test_a_charset_on_the_form_content_type_is_fine(client, clips):
    body = urlencode({"key": JUHE_VIDEO_KEY, "videoBase64": b64(clips["good"])})

    assert client.post(VERIFY, body, content_type=f"{FORM}; charset=UTF-8").json()["error_code"] == 0


@pytest.mark.parametrize("path, code", [(VERIFY, 280208), (QUERY, 2546101)])
def test_a_get_is_a_405(client, path, code):
    response = client.get(path)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert_error(response.json(), code)


@pytest.mark.parametrize("path", [f"{VERIFY}/", f"{BASE}/face_video/verify", BASE])
def test_an_unknown_path_is_a_404(client, path):
    response = client.post(path, "key=x", content_type=FORM)

    assert response.status_code == 404
    assert response.json()["error_code"] == 404


# --- videoAuth/query -------------------------------------------------------------------------------------


def test_query_passes_and_serves_pictures(client, clips):
    body = query(client, clips["good"])

    assert list(body) == ["reason", "error_code", "result"]
    assert (body["error_code"], body["reason"]) == (0, "检测成功")
    result = body["result"]
    assert list(result) == ["orderid", "livingScore", "faceScore", "faceAdvise", "pictures"]
    assert re.fullmatch(r"JH5461[0-9]{12}[A-Za-z0-9]{8}", result["orderid"])
    assert (result["livingScore"], result["faceScore"], result["faceAdvise"]) == (
        0.998,
        0.86,
        "系统判断为同一人",
    )
    assert len(result["pictures"]) == 8
    url = urlsplit(result["pictures"][0])
    assert (url.scheme, url.netloc, url.path) == ("http", "testserver", f"{BASE}/videoAuth/face-store-njb")
    picture = client.get(f"{url.path}?{url.query}")
    assert picture.status_code == 200
    assert picture["Content-Type"] == "image/jpeg"
    assert picture["Cache-Control"] == "private, no-store"
    assert image_size(picture.content) == (480, 640)


def test_pictures_expire(client, clips, settings):
    settings.SANDBOX_JUHE_PICTURE_TTL = 60
    url = urlsplit(query(client, clips["good"])["result"]["pictures"][0])
    assert client.get(f"{url.path}?{url.query}").status_code == 200
    JuhePicture.objects.update(created_at=JuhePicture.objects.first().created_at - timedelta(seconds=61))

    assert client.get(f"{url.path}?{url.query}").status_code == 404


def test_a_picture_needs_its_token(client, clips):
    url = urlsplit(query(client, clips["good"])["result"]["pictures"][0])

    assert client.get(f"{url.path}?{url.query[:-2]}xx").status_code == 404
    assert client.get(url.path).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_pictures_are_downloadable_over_http(live_server, clips):
    form = {
        "key": JUHE_VIDEO_AUTH_KEY,
        "realname": "张三",
        "idcard": PASSING_ID,
        "videoData": "base64:" + b64(clips["good"]),
        "rate_type": "7",
    }
    body = requests.post(f"{live_server.url}{QUERY}", data=form, timeout=30).json()

    assert body["error_code"] == 0
    for url in body["result"]["pictures"][:2]:
        assert url.startswith(live_server.url)
        response = requests.get(url, timeout=10)
        assert response.status_code == 200 and response.content[:3] == b"\xff\xd8\xff"


def test_the_low_similarity_name_gets_a_low_face_score(client, clips):
    result = query(client, clips["good"], realname="李不像")["result"]

    assert (result["faceScore"], result["faceAdvise"]) == (0.21, "系统判断为不同人")
    assert len(result["pictures"]) == 8


@pytest.mark.parametrize(
    "rate_type, living, compared",
    [
        ("1", 0.5, True),
        ("3", 0.5, False),
        ("1", 0.393241, False),  # "高于阈值": equal is not above
        ("2", 0.03, True),
        ("7", 0.994, False),
        (None, 0.39, False),  # default rate_type 1
    ],
)
def test_the_comparison_only_runs_above_the_rate_type_threshold(client, clips, rate_type, living, compared):
    steer(client, endpoint="videoAuth/query", livingScore=str(living))

    body = query(client, clips["good"], rate_type=rate_type)

    assert body["error_code"] == 0
    assert body["result"]["livingScore"] == living
    assert ("faceScore" in body["result"]) is compared
    assert ("pictures" in body["result"]) is compared
    if not compared:
        assert list(body["result"]) == ["orderid", "livingScore"]


def test_the_default_living_score_passes_the_strictest_threshold(client, clips):
    assert "faceScore" in query(client, clips["good"], rate_type="7")["result"]


def test_a_still_video_is_not_live(client, clips):
    result = query(client, clips["still"])["result"]

    assert list(result) == ["orderid", "livingScore"] and result["livingScore"] < 0.022403


def test_query_needs_no_sound(client, clips):
    assert query(client, clips["no-audio"])["error_code"] == 0


@pytest.mark.parametrize(
    "params, code, word",
    [
        ({"realname": None}, 2546101, "realname"),
        ({"idcard": ""}, 2546101, "idcard"),
        ({"idcard": "110105194912310021"}, 2546101, "GB 11643"),
        ({"idcard": "11010519491231002x"}, 2546101, "GB 11643"),
        ({"realname": "Zhang San"}, 2546101, "realname"),
        ({"rate_type": "0"}, 2546101, "rate_type"),
        ({"rate_type": "8"}, 2546101, "rate_type"),
        ({"rate_type": ""}, 2546101, "rate_type"),
        ({"rate_type": "1.0"}, 2546101, "rate_type"),
        ({"videoData": None}, 2546101, "videoData"),
        ({"videoData": "AAAA"}, 2546101, "base64:"),
        ({"videoData": "Base64:AAAA"}, 2546101, "base64:"),
        ({"videoData": "base64:"}, 2546102, "nothing"),
        ({"videoData": "base64:AAA"}, 2546102, "base64"),
    ],
)
def test_query_parameters_are_checked(client, clips, params, code, word):
    params = {"videoData": "base64:" + b64(clips["good"]), **params}

    assert_error(query(client, **params), code, word)


def test_a_data_url_prefix_is_refused_by_name(client, clips):
    body = query(client, videoData="data:video/mp4;base64," + b64(clips["good"]))

    assert_error(body, 2546101, "data:video/mp4;base64,")


def test_video_data_over_ten_megabytes_is_refused(client):
    assert_error(query(client, videoData="base64:" + "A" * (10 * MB)), 2546102, "10 MB")


@pytest.mark.parametrize("name", ["webm", "mov", "short", "truncated"])
def test_query_refuses_bad_videos(client, clips, name):
    assert_error(query(client, clips[name]), 2546102)


# --- Steering -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [280243, 280244, 280219, 280229, 280241, 280220, 10012, 10014, 10020])
def test_a_steered_error_code_answers_the_next_verify(client, clips, code):
    queued = steer(client, endpoint="face_vedio/verify", error_code=str(code))
    assert queued == {"queued": {"error_code": code}, "endpoint": "face_vedio/verify", "pending": 1}

    assert_error(verify(client, clips["good"]), code)
    assert verify(client, clips["good"])["error_code"] == 0


def test_a_steered_267509_is_billed_with_an_order_id(client, clips):
    steer(client, endpoint="face_vedio/verify", error_code="267509")

    body = verify(client, clips["good"])

    assert body["error_code"] == 267509
    assert list(body["result"]) == ["orderid"]


def test_a_steered_2546134_passes_without_pictures(client, clips):
    steer(client, endpoint="videoAuth/query", error_code="2546134")

    body = query(client, clips["good"])

    assert body["error_code"] == 2546134
    assert list(body["result"]) == ["orderid", "livingScore", "faceScore", "faceAdvise"]


@pytest.mark.parametrize("code", [2546135, 10012, 10020])
def test_other_steered_query_codes_have_no_result(client, clips, code):
    steer(client, endpoint="videoAuth/query", error_code=str(code))

    assert_error(query(client, clips["good"]), code)


def test_a_steered_face_score(client, clips):
    steer(client, endpoint="videoAuth/query", faceScore="0.4")

    result = query(client, clips["good"])["result"]

    assert (result["faceScore"], result["faceAdvise"]) == (0.4, "系统判断为不同人")


def test_a_bad_request_does_not_consume_the_steered_answer(client, clips):
    steer(client, endpoint="face_vedio/verify", error_code="280243")
    assert_error(verify(client, clips["good"], key="guess"), 10001)
    assert_error(verify(client, clips["webm"]), 280237)
    assert_error(verify(client, clips["good"], bestFrameNum="1"), 280210)

    assert_error(verify(client, clips["good"]), 280243)


@pytest.mark.parametrize(
    "fields, word",
    [
        ({"endpoint": "nothing", "error_code": "280243"}, "endpoint"),
        ({"endpoint": "face_vedio/verify"}, "give error_code"),
        ({"endpoint": "face_vedio/verify", "error_code": "0"}, "documented"),
        ({"endpoint": "face_vedio/verify", "error_code": "2546134"}, "documented"),
        ({"endpoint": "videoAuth/query", "error_code": "280243"}, "documented"),
        ({"endpoint": "face_vedio/verify", "livingScore": "0.5"}, "only steer videoAuth"),
        ({"endpoint": "videoAuth/query", "livingScore": "1.5"}, "between 0 and 1"),
        ({"endpoint": "videoAuth/query", "faceScore": "x"}, "number"),
        ({"endpoint": "videoAuth/query", "error_code": "2546135", "faceScore": "0.5"}, "2546134"),
    ],
)
def test_invalid_steering_is_refused(client, fields, word):
    response = client.post(STEER, fields)

    assert response.status_code == 400
    assert word in response.json()["error"]
    assert not SteeredAnswer.objects.exists()


def test_steered_answers_die_unused_and_can_be_cleared(client, clips, settings):
    settings.SANDBOX_STEER_TTL = 30
    steer(client, endpoint="face_vedio/verify", error_code="280243")
    SteeredAnswer.objects.update(created_at=SteeredAnswer.objects.get().created_at - timedelta(seconds=31))
    assert verify(client, clips["good"])["error_code"] == 0

    steer(client, endpoint="videoAuth/query", error_code="2546135")
    assert client.post(STEER, {"action": "clear"}).json() == {"cleared": 1}
    assert query(client, clips["good"])["error_code"] == 0


def test_the_steering_page(client):
    steer(client, endpoint="videoAuth/query", error_code="2546135")

    page = client.get(STEER).content.decode()

    assert "SANDBOX" in page and "李不像" in page and "2546135" in page and "0.393241" in page
