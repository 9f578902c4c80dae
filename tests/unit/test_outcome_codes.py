"""Every vendor's outcome is told the same way: `vendor_code` is the code of
the vendor answer that decided the attempt, pass or fail (Tencent and Juhe
answer 0 when their scores decided), and each score has its threshold
beside it. Methods against stand-in vendor servers over real HTTP."""

import json
from types import SimpleNamespace

import pytest

from tests.support.media_samples import make_jpeg
from verification.methods import method_of
from verification.methods.tencent_lip import verdict_outcome
from verification.vendors import tencent


def reply(body):
    return lambda request: (200, {"Content-Type": "application/json"}, json.dumps(body).encode())


@pytest.fixture
def double():
    from tests.support.http_double import HttpDouble

    with HttpDouble() as server:
        yield server


def a_session(**fields):
    return SimpleNamespace(**{"idcard": "", "realname": "", "options": {}, "reference_photo": None, "pk": "s-1", **fields})


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "selfie.jpg"
    path.write_bytes(make_jpeg(300, 400))
    return path


@pytest.mark.parametrize("score, status", [(99, "passed"), (10, "failed")])
def test_a_tencent_photo_decided_by_its_score_carries_code_0_and_the_threshold(double, settings, photo, score,
                                                                                 status, calls):
    settings.TENCENT_BASE_URL = double.url
    double.respond = reply({"code": 0, "message": "OK", "data": {"score": score}})

    outcome = method_of("tencent_photo").send(a_session(), None, photo, recorder=calls)

    assert (outcome.status, outcome.vendor, outcome.vendor_code) == (status, "tencent", "0")
    assert outcome.scores == {"photo_score": score, "photo_score_threshold": settings.TENCENT_PHOTO_SCORE_THRESHOLD}


@pytest.mark.parametrize("verdict, code", [
    (tencent.Verdict(True, "passed", 0, retryable=False), "0"),
    (tencent.Verdict(False, "face_mismatch", 0, retryable=True, scores={"sim": 40, "sim_threshold": 70}), "0"),
    (tencent.Verdict(False, "not_live", -4006, retryable=True), "-4006"),
])
def test_a_tencent_video_verdict_always_names_its_code(verdict, code):
    assert verdict_outcome(verdict).vendor_code == code


@pytest.mark.parametrize("method, body, status", [
    ("juhe_video", {"error_code": 0, "result": {"orderid": "JH1"}}, "passed"),
    ("juhe_video_auth", {"error_code": 0, "result": {"orderid": "JH2", "livingScore": 0.99, "faceScore": 0.9}},
     "passed"),
    ("juhe_video_auth", {"error_code": 0, "result": {"orderid": "JH3", "livingScore": 0.99, "faceScore": 0.1}},
     "failed"),
])
def test_a_juhe_answer_carries_code_0_when_the_scores_decided(double, settings, tmp_path, method, body, status, calls):
    settings.JUHE_BASE_URL = double.url
    double.respond = reply(body)
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00" * 64)
    session = a_session(realname="张三", idcard="11010519491231002X")

    outcome = method_of(method).send(session, SimpleNamespace(challenge_value=""), video, recorder=calls)

    assert (outcome.status, outcome.vendor, outcome.vendor_code) == (status, "juhe", "0")
    if method == "juhe_video_auth":
        assert outcome.scores["living_threshold"] == 0.393241
        # Document 001 gives faceScore no threshold: ours is shown beside it.
        assert outcome.scores["face_score_threshold"] == settings.JUHE_FACE_SCORE_THRESHOLD
