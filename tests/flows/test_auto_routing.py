"""`"method": "auto"`: the order a session may run methods in (the client's
or the request's), the choice for the person's device, and the fall-over
to the next method when a vendor is down before anything was billed, with
each vendor faulted in turn against the sandbox (the others real, over
HTTP): the person keeps their attempt and their consent, and no call that
may have billed is made again."""

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from tests.conftest import run_due_tasks
from tests.support.factories import challenge_shown_ago
from tests.support.http_double import HttpDouble, free_port, slow
from tests.support.media_samples import make_jpeg, make_video
from verification.services import webhooks
from verification.models import ApiClient, Submission, VendorCall, VerificationSession, WebhookMessage
from verification.vendors.breaker import OPEN, breaker_record, breaker_state

pytestmark = pytest.mark.django_db(transaction=True)

IDCARD = "11010519491231002X"
FULL_DEVICE = {"camera": True, "microphone": True, "media_recorder": True, "recorder_types": ["video/webm"]}


def api(client, key, body):
    return client.post("/api/v1/sessions", data=json.dumps(body), content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {key}")


def created(client, alice, **body) -> VerificationSession:
    response = api(client, alice.key, {"method": "auto", "external_ref": "r", **body})
    assert response.status_code == 201, response.content
    return VerificationSession.objects.get(pk=response.json()["id"])


def route(client, session, device=FULL_DEVICE, user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"):
    return client.post(f"/v/{session.link_token}/route", data=json.dumps(device), content_type="application/json",
                       HTTP_USER_AGENT=user_agent)


def consented_and_routed(client, alice, methods, **body) -> VerificationSession:
    session = created(client, alice, methods=methods, **body)
    client.post(f"/v/{session.link_token}/consent")
    assert route(client, session).json() == {"method": methods[0]}
    session.refresh_from_db()
    return session


def detail(client, alice, session) -> dict:
    return client.get(f"/api/v1/sessions/{session.pk}", HTTP_AUTHORIZATION=f"Bearer {alice.key}").json()


# --- the order ---------------------------------------------------------------------------------


def test_the_clients_order_is_followed_and_methods_needing_identity_are_left_out(client, alice):
    alice.set_methods(["tencent_idcard", "juhe_video_auth", "h5", "tencent_lip"])
    session = created(client, alice)

    assert (session.method, session.method_requested) == ("", "auto")
    assert session.method_order == ["h5", "tencent_lip"]  # no name and ID number were given
    assert detail(client, alice, session)["method"] is None
    assert detail(client, alice, session)["method_requested"] == "auto"
    assert detail(client, alice, session)["methods_tried"] == []

    with_identity = created(client, alice, realname="张三", idcard=IDCARD)
    assert with_identity.method_order == ["tencent_idcard", "juhe_video_auth", "h5", "tencent_lip"]


def test_a_requests_own_order_replaces_the_clients(client, alice):
    alice.set_methods(["h5"])
    session = created(client, alice, methods=["juhe_video", "tencent_photo"])
    assert session.method_order == ["juhe_video", "tencent_photo"]


def test_a_reference_photo_leaves_out_the_methods_that_take_none(client, alice):
    import base64

    photo = base64.b64encode(make_jpeg()).decode()
    session = created(client, alice, methods=["h5", "tencent_lip"], reference_photo=photo)
    assert session.method_order == ["tencent_lip"]


@pytest.mark.parametrize(
    "body, field, words",
    [
        ({"method": "auto"}, "methods", "this API client has no method order"),
        ({"method": "auto", "methods": ["h5", "tencent_faceid_x"]}, "methods", "unknown method(s): tencent_faceid_x"),
        ({"method": "auto", "methods": ["h5", "h5"]}, "methods", "names a method twice"),
        ({"method": "auto", "methods": []}, "methods", "at least one"),
        ({"method": "auto", "methods": "h5,tencent_lip"}, "methods", "a list of method names"),
        ({"method": "auto", "methods": ["h5", 3]}, "methods", "a list of method names"),
        ({"method": "auto", "methods": ["tencent_idcard", "juhe_video_auth"]}, "methods", "none of these methods"),
        ({"method": "h5", "methods": ["h5"]}, "methods", "only with method auto"),
        ({"method": "auto", "methods": ["h5"], "options": {"actions": ["BlinkEye"]}}, "options", "not accepted"),
        ({"method": "automatic"}, "method", "one of auto, h5"),
    ],
)
def test_a_bad_order_is_a_clear_400_and_stores_nothing(client, alice, body, field, words):
    response = api(client, alice.key, {"external_ref": "r", **body})

    assert response.status_code == 400
    assert words in response.json()["error"]["fields"][field]
    assert not VerificationSession.objects.exists()


def test_create_api_client_takes_an_order_and_refuses_a_bad_one(db, capsys):
    call_command("create_api_client", "dora", "--methods", "h5, tencent_lip")
    assert ApiClient.objects.get(name="dora").methods == ["h5", "tencent_lip"]
    assert "Method order for auto: h5, tencent_lip" in capsys.readouterr().out
    with pytest.raises(Exception, match="unknown method"):
        call_command("create_api_client", "erin", "--methods", "h5,nope")
    assert not ApiClient.objects.filter(name="erin").exists()


def test_existing_sessions_keep_what_they_ran(client, alice):
    response = api(client, alice.key, {"method": "tencent_lip", "external_ref": "r"})
    body = detail(client, alice, VerificationSession.objects.get(pk=response.json()["id"]))
    assert (body["method"], body["method_requested"], body["methods_tried"]) == ("tencent_lip", "tencent_lip",
                                                                                 ["tencent_lip"])


# --- the choice for the device -------------------------------------------------------------


def test_routing_waits_for_consent(client, alice):
    session = created(client, alice, methods=["h5"])
    response = route(client, session)
    assert response.status_code == 403
    page = client.get(f"/v/{session.link_token}/")
    assert b'id="consent-button"' in page.content
    assert "聚美智数 Jumdata".encode() in page.content


def test_consent_names_every_vendor_the_session_may_go_to(client, alice):
    session = created(client, alice, methods=["h5", "tencent_lip", "juhe_video"], locale="en")
    page = client.get(f"/v/{session.link_token}/").content.decode()
    assert "聚美智数 Jumdata, 腾讯云 Tencent Cloud, 聚合数据 Juhe" in page


def test_after_consent_the_page_probes_then_shows_the_chosen_methods_step(client, alice):
    session = created(client, alice, methods=["tencent_lip", "h5"])
    client.post(f"/v/{session.link_token}/consent")

    page = client.get(f"/v/{session.link_token}/").content.decode()
    assert 'id="route"' in page and "js/route.js" in page and "<script>" not in page  # CSP: no inline script
    assert "正在检查此设备的功能" in page  # the session's language (zh-hans)

    assert route(client, session).json() == {"method": "tencent_lip"}
    assert route(client, session, device={"camera": False}).json() == {"method": "tencent_lip"}, "chosen once"
    session.refresh_from_db()
    assert (session.method, session.methods_tried, session.status) == ("tencent_lip", ["tencent_lip"], "created")
    assert session.device_facts["passed_over"] == {"tencent_lip": "", "h5": ""}
    page = client.get(f"/v/{session.link_token}/").content.decode()
    assert 'id="recorder"' in page and "js/route.js" not in page


@pytest.mark.parametrize(
    "device, user_agent, chosen",
    [
        ({**FULL_DEVICE, "microphone": False}, "", "tencent_photo"),
        ({**FULL_DEVICE, "media_recorder": False, "recorder_types": []}, "", "tencent_photo"),
        (FULL_DEVICE, "Mozilla/5.0 (Linux; Android 14) Chrome/131.0 Mobile MicroMessenger/8.0.49", "h5"),
    ],
)
def test_the_first_method_this_device_can_do_is_chosen(client, alice, device, user_agent, chosen):
    session = created(client, alice, methods=["tencent_lip", "tencent_photo", "h5"])
    client.post(f"/v/{session.link_token}/consent")
    assert route(client, session, device=device, user_agent=user_agent).json() == {"method": chosen}


def test_a_vendor_whose_breaker_is_open_is_passed_over(client, alice, settings):
    settings.VENDOR_BREAKER_FAILURES = 1
    breaker_record("tencent", failed=True)
    session = created(client, alice, methods=["tencent_lip", "juhe_video"])
    client.post(f"/v/{session.link_token}/consent")

    assert route(client, session).json() == {"method": "juhe_video"}
    session.refresh_from_db()
    assert session.device_facts["passed_over"]["tencent_lip"] == "vendor_down"
    assert not VendorCall.objects.exists()


def test_h5_with_an_identity_is_passed_over_while_tencent_is_down(client, alice, settings):
    """Its returned face goes to Tencent's idcardcompare: Jumdata would bill
    a check whose answer could not be confirmed."""
    settings.VENDOR_BREAKER_FAILURES = 1
    breaker_record("tencent", failed=True)
    with_identity = created(client, alice, methods=["h5", "juhe_video"], realname="张三", idcard=IDCARD)
    without = created(client, alice, methods=["h5", "juhe_video"])
    for session in (with_identity, without):
        client.post(f"/v/{session.link_token}/consent")

    assert route(client, with_identity).json() == {"method": "juhe_video"}
    assert route(client, without).json() == {"method": "h5"}


def test_no_method_for_this_device_says_so_and_chooses_nothing(client, alice, settings):
    session = created(client, alice, methods=["tencent_lip", "h5"])
    client.post(f"/v/{session.link_token}/consent")

    response = route(client, session, device={"camera": False})
    assert response.status_code == 503 and response.json()["error"]["code"] == "no_method_for_device"

    settings.VENDOR_BREAKER_FAILURES = 1
    breaker_record("tencent", failed=True)
    breaker_record("jumdata", failed=True)
    response = route(client, session)
    assert response.status_code == 503 and response.json()["error"]["code"] == "vendors_down"
    session.refresh_from_db()
    assert (session.method, session.status, session.methods_tried) == ("", "created", [])


def test_a_session_ended_before_choosing_chooses_nothing(client, alice):
    session = created(client, alice, methods=["tencent_lip"])
    client.post(f"/v/{session.link_token}/consent")
    session.cancel(reason="declined")

    response = route(client, session)

    assert response.status_code == 409 and response.json()["error"]["code"] == "finished"
    session.refresh_from_db()
    assert (session.status, session.method) == ("cancelled", "")
    assert detail(client, alice, session)["method"] is None


def test_without_a_cache_routing_goes_on_as_if_every_breaker_were_closed(client, alice, monkeypatch):
    from verification.vendors import breaker

    def unreachable(*args, **kwargs):
        raise ConnectionError("no cache")

    monkeypatch.setattr(breaker.cache, "get", unreachable)
    session = created(client, alice, methods=["tencent_lip"])
    client.post(f"/v/{session.link_token}/consent")
    assert route(client, session).json() == {"method": "tencent_lip"}


def test_continued_on_a_phone_before_anything_started_the_phone_is_probed_again(client, alice):
    session = created(client, alice, methods=["tencent_lip", "tencent_photo"])
    client.post(f"/v/{session.link_token}/consent")
    assert route(client, session).json() == {"method": "tencent_lip"}  # the computer, with a microphone

    page = client.get(f"/v/{session.link_token}/?via=handoff").content.decode()  # the phone, from the QR code
    assert 'id="route"' in page and "data-handoff-device" in page and 'id="recorder"' not in page
    phone = {**FULL_DEVICE, "microphone": False, "handoff": True}
    assert route(client, session, device=phone).json() == {"method": "tencent_photo"}

    session.refresh_from_db()
    assert (session.method, session.methods_tried, session.device_facts["handoff"]) == (
        "tencent_photo", ["tencent_photo"], True)
    # Once only: a third device, or the phone again, keeps what the phone got.
    assert route(client, session, device={**FULL_DEVICE, "handoff": True}).json() == {"method": "tencent_photo"}
    assert 'id="route"' not in client.get(f"/v/{session.link_token}/?via=handoff").content.decode()


def test_once_an_attempt_began_the_phone_gets_the_same_method(client, alice, sandbox):
    session = created(client, alice, methods=["tencent_lip", "tencent_photo"])
    client.post(f"/v/{session.link_token}/consent")
    route(client, session)
    client.post(f"/v/{session.link_token}/challenge")  # the computer began

    assert 'id="route"' not in client.get(f"/v/{session.link_token}/?via=handoff").content.decode()
    phone = {**FULL_DEVICE, "microphone": False, "handoff": True}
    assert route(client, session, device=phone).json() == {"method": "tencent_lip"}


def test_steps_of_a_method_wait_for_the_choice(client, alice):
    session = created(client, alice, methods=["tencent_lip"])
    client.post(f"/v/{session.link_token}/consent")
    response = client.post(f"/v/{session.link_token}/challenge")
    assert response.status_code == 409 and response.json()["error"]["code"] == "method_not_chosen"
    assert client.post(f"/v/{session.link_token}/h5/start").status_code == 409


def test_an_embedder_is_told_what_any_of_the_methods_needs(client, alice, settings):
    response = api(client, alice.key, {"method": "auto", "methods": ["tencent_photo", "h5", "tencent_lip"],
                                       "external_ref": "r"})
    assert response.json()["iframe_allow"] == f"camera 'src' {settings.SITE_URL}; microphone"


# --- fall-over, each vendor faulted in turn ------------------------------------------------

FAULTS = ("http_error", "refused", "busy", "breaker_open")
BUSY_ANSWERS = {
    "jumdata": {"code": 609, "msg": "请求过于频繁,请稍候再试", "charge": False, "taskNo": "t-1"},
    "tencent": {"code": 15, "message": "操作太频繁，触发频控"},
    "juhe": {"error_code": 10011, "reason": "当前IP请求超过限制", "result": None},
    # FaceID's codes are strings, in the API 3.0 error envelope (HTTP 200).
    "faceid": {"Response": {"Error": {"Code": "RequestLimitExceeded", "Message": "请求的次数超过了频率限制。"},
                            "RequestId": "c0ffee00-0000-4000-8000-000000000001"}},
}
BASE_URL_SETTINGS = {"jumdata": "JUMDATA_BASE_URL", "tencent": "TENCENT_BASE_URL", "juhe": "JUHE_BASE_URL",
                     "faceid": "FACEID_BASE_URL"}


@pytest.fixture
def faulty(sandbox, settings):
    """Faults one vendor while the others stay on the sandbox."""
    doubles = []

    def fault(vendor: str, kind: str):
        setting = BASE_URL_SETTINGS[vendor]
        if kind == "refused":
            setattr(settings, setting, f"http://127.0.0.1:{free_port()}")
        elif kind == "breaker_open":
            settings.VENDOR_BREAKER_FAILURES = 1
            breaker_record(vendor, failed=True)
            assert breaker_state(vendor) == OPEN
        else:
            double = HttpDouble().__enter__()
            doubles.append(double)
            if kind == "http_error":
                double.respond = lambda request: (503, {"Content-Type": "text/html"}, b"<h1>503</h1>")
            elif kind == "busy":
                body = json.dumps(BUSY_ANSWERS[vendor]).encode()
                double.respond = lambda request: (200, {"Content-Type": "application/json"}, body)
            elif kind == "timeout":
                settings.VENDOR_TIMEOUT_SECONDS = (1.0, 0.3)
                double.respond = slow(1.0, lambda request: (200, {"Content-Type": "application/json"}, b"{}"))
            setattr(settings, setting, double.url)

    yield fault
    for double in doubles:
        double.__exit__(None, None, None)


def calls_to(vendor: str) -> list[str]:
    return list(VendorCall.objects.filter(vendor=vendor).order_by("pk").values_list("endpoint", flat=True))


def upload(client, session, content: bytes, *, field="video", name="v.webm"):
    challenge_shown_ago(session)  # the clip is older than this request: it fits since the challenge
    return client.post(f"/v/{session.link_token}/{field}", {
        field: SimpleUploadedFile(name, content, content_type="application/octet-stream"), "capture": "recorder",
    })


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> bytes:
    return make_video(Path(tmp_path_factory.mktemp("auto")) / "take.webm", container="webm",
                      video_codec="libvpx-vp9", audio_codec="libopus").read_bytes()


def assert_fell_over(session, *, was: str, now: str, consent_at):
    session.refresh_from_db()
    assert (session.method, session.methods_tried) == (now, [was, now])
    assert (session.status, session.attempts_used, session.consent_at) == ("created", 0, consent_at)
    assert not WebhookMessage.objects.filter(session=session).exists(), "nothing ended: the integrator waits"


@pytest.mark.parametrize("fault", FAULTS)
def test_jumdata_down_moves_h5_on_to_the_next_method(faulty, client, alice, fault, clip):
    session = consented_and_routed(client, alice, ["h5", "tencent_lip"])
    faulty("jumdata", fault)  # after the choice: the breaker opens on other sessions' failures meanwhile

    response = client.post(f"/v/{session.link_token}/h5/start")

    assert response.status_code == 302 and response["Location"] == f"/v/{session.link_token}/"
    assert_fell_over(session, was="h5", now="tencent_lip", consent_at=session.consent_at)
    assert calls_to("jumdata") == ["init"]  # one init, never made again
    page = client.get(f"/v/{session.link_token}/").content.decode()
    assert 'id="recorder"' in page and 'id="consent-button"' not in page  # the next step, no second consent
    challenge = client.post(f"/v/{session.link_token}/challenge").json()
    assert challenge["kind"] == "lip_code"
    assert upload(client, session, clip).status_code == 202
    run_due_tasks()
    session.refresh_from_db()
    assert (session.status, session.method, session.attempts_used) == ("passed", "tencent_lip", 1)
    assert calls_to("jumdata") == ["init"]
    body = detail(client, alice, session)
    assert (body["method"], body["method_requested"], body["methods_tried"]) == ("tencent_lip", "auto",
                                                                                 ["h5", "tencent_lip"])
    sent = webhooks._payload(session=session, event_type="session.completed", sequence=1)["data"]
    assert (sent["method"], sent["method_requested"], sent["methods_tried"]) == ("tencent_lip", "auto",
                                                                                 ["h5", "tencent_lip"])


@pytest.mark.parametrize("fault", FAULTS)
def test_tencent_down_moves_the_lip_code_on_to_juhe(faulty, client, alice, fault, clip):
    session = consented_and_routed(client, alice, ["tencent_lip", "juhe_video"])
    faulty("tencent", fault)  # after the choice: the breaker opens on other sessions' failures meanwhile

    response = client.post(f"/v/{session.link_token}/challenge")

    assert response.status_code == 409 and response.json()["error"]["code"] == "method_changed"
    assert_fell_over(session, was="tencent_lip", now="juhe_video", consent_at=session.consent_at)
    assert calls_to("tencent") == ["livegetfour"]
    challenge = client.post(f"/v/{session.link_token}/challenge").json()
    assert challenge["kind"] in ("digits", "actions", "none")
    assert upload(client, session, clip).status_code == 202
    run_due_tasks()
    session.refresh_from_db()
    assert (session.status, session.method, session.attempts_used) == ("passed", "juhe_video", 1)
    assert calls_to("tencent") == ["livegetfour"]


@pytest.mark.parametrize("fault", FAULTS)
def test_juhe_down_when_the_video_is_sent_moves_on_to_a_selfie(faulty, client, alice, fault, clip):
    session = consented_and_routed(client, alice, ["juhe_video", "tencent_photo"])
    faulty("juhe", fault)  # after the choice: the breaker opens on other sessions' failures meanwhile
    client.post(f"/v/{session.link_token}/challenge")
    assert upload(client, session, clip).status_code == 202

    run_due_tasks()

    assert_fell_over(session, was="juhe_video", now="tencent_photo", consent_at=session.consent_at)
    assert calls_to("juhe") == ["face_vedio/verify"]  # sent once (or stopped by the breaker), never again
    video = Submission.objects.get(session=session)
    assert (video.state, video.refusal, video.attempt) == ("refused", "vendor_down", 1)
    assert client.get(f"/v/{session.link_token}/status").json()["status"] == "created"  # the page reloads into it
    client.post(f"/v/{session.link_token}/challenge")
    assert upload(client, session, make_jpeg(), field="photo", name="selfie.jpg").status_code == 202
    run_due_tasks()
    session.refresh_from_db()
    assert (session.status, session.method, session.attempts_used) == ("passed", "tencent_photo", 1)
    assert calls_to("juhe") == ["face_vedio/verify"]


@pytest.mark.parametrize("fault", FAULTS)
def test_faceid_down_moves_its_h5_page_on_to_the_next_method(faulty, client, alice, fault, clip):
    session = consented_and_routed(client, alice, ["faceid_h5", "tencent_lip"], realname="张三", idcard=IDCARD)
    faulty("faceid", fault)  # after the choice: the breaker opens on other sessions' failures meanwhile

    response = client.post(f"/v/{session.link_token}/h5/start")

    assert response.status_code == 302 and response["Location"] == f"/v/{session.link_token}/"
    assert_fell_over(session, was="faceid_h5", now="tencent_lip", consent_at=session.consent_at)
    assert calls_to("faceid") == ["DetectAuth"]  # one DetectAuth (or stopped by the breaker), never made again
    page = client.get(f"/v/{session.link_token}/").content.decode()
    assert 'id="recorder"' in page and 'id="consent-button"' not in page  # the next step, no second consent
    assert client.post(f"/v/{session.link_token}/challenge").json()["kind"] == "lip_code"
    assert upload(client, session, clip).status_code == 202
    run_due_tasks()
    session.refresh_from_db()
    assert (session.status, session.method, session.attempts_used) == ("passed", "tencent_lip", 1)
    assert calls_to("faceid") == ["DetectAuth"]
    assert detail(client, alice, session)["methods_tried"] == ["faceid_h5", "tencent_lip"]


@pytest.mark.parametrize("fault", FAULTS)
def test_faceid_down_at_get_live_code_moves_on_to_the_next_method(faulty, client, alice, fault):
    session = consented_and_routed(client, alice, ["faceid_lip", "tencent_lip"], realname="张三", idcard=IDCARD)
    faulty("faceid", fault)

    response = client.post(f"/v/{session.link_token}/challenge")

    assert response.status_code == 409 and response.json()["error"]["code"] == "method_changed"
    assert_fell_over(session, was="faceid_lip", now="tencent_lip", consent_at=session.consent_at)
    assert calls_to("faceid") == ["GetLiveCode"]
    assert client.post(f"/v/{session.link_token}/challenge").json()["kind"] == "lip_code"  # Tencent's, now
    assert calls_to("tencent") == ["livegetfour"]
    assert calls_to("faceid") == ["GetLiveCode"]


@pytest.mark.parametrize("code", ["RequestLimitExceeded", "FailedOperation.RequestLimitExceeded", "InternalError",
                                  "InternalError.UnKnown"])
def test_each_faceid_busy_code_moves_on_and_other_refusals_do_not(sandbox, client, alice, settings, code):
    def answering(error_code):
        body = json.dumps({"Response": {"Error": {"Code": error_code, "Message": "…"}, "RequestId": "r-1"}}).encode()
        return lambda request: (200, {"Content-Type": "application/json"}, body)

    with HttpDouble() as double:
        settings.FACEID_BASE_URL = double.url
        double.respond = answering(code)
        busy = consented_and_routed(client, alice, ["faceid_lip", "tencent_lip"], realname="张三", idcard=IDCARD)
        assert client.post(f"/v/{busy.link_token}/challenge").json()["error"]["code"] == "method_changed"
        assert_fell_over(busy, was="faceid_lip", now="tencent_lip", consent_at=busy.consent_at)

        double.respond = answering("FailedOperation.UnKnown")  # not a word on availability
        stays = consented_and_routed(client, alice, ["faceid_lip", "tencent_lip"], realname="张三", idcard=IDCARD)
        assert client.post(f"/v/{stays.link_token}/challenge").status_code == 503
    stays.refresh_from_db()
    assert (stays.method, stays.status, stays.methods_tried) == ("faceid_lip", "error", ["faceid_lip"])
    assert calls_to("faceid") == ["GetLiveCode", "GetLiveCode"]  # one for each session, none made again


def test_faceid_busy_when_the_video_is_sent_moves_on_and_the_recording_is_set_aside(faulty, client, alice, clip):
    session = consented_and_routed(client, alice, ["faceid_lip", "tencent_lip"], realname="张三", idcard=IDCARD)
    assert client.post(f"/v/{session.link_token}/challenge").json()["kind"] == "lip_code"  # FaceID's sandbox
    assert upload(client, session, clip).status_code == 202
    faulty("faceid", "busy")  # …and FaceID is over its rate limit when the worker sends the video

    run_due_tasks()

    assert_fell_over(session, was="faceid_lip", now="tencent_lip", consent_at=session.consent_at)
    assert calls_to("faceid") == ["GetLiveCode", "LivenessRecognition"]  # sent once, never again
    video = Submission.objects.get(session=session)
    assert (video.state, video.refusal) == ("refused", "vendor_down")


@pytest.mark.parametrize("methods, step, endpoint", [
    (["faceid_h5", "tencent_lip"], "h5/start", "DetectAuth"),
    (["faceid_lip", "tencent_lip"], "challenge", "GetLiveCode"),
])
def test_a_faceid_read_timeout_may_have_billed_so_the_session_stays(faulty, client, alice, methods, step, endpoint):
    faulty("faceid", "timeout")
    session = consented_and_routed(client, alice, methods, realname="张三", idcard=IDCARD)

    client.post(f"/v/{session.link_token}/{step}")

    session.refresh_from_db()
    assert (session.method, session.status, session.methods_tried) == (methods[0], "error", [methods[0]])
    assert session.consent_at is not None
    assert calls_to("faceid") == [endpoint]  # once: a call that may have been received is not made again
    assert not calls_to("tencent")


def test_a_timeout_may_have_billed_so_the_session_stays_until_the_breaker_opens(faulty, client, alice, settings):
    """A read timeout leaves the bill unknown: no fall-over on it (the
    attempt is still given back, as the lip code was never shown). Once the
    breaker opens on the timeouts, the person's next try moves on at once."""
    faulty("tencent", "timeout")
    settings.VENDOR_BREAKER_FAILURES = 1
    session = consented_and_routed(client, alice, ["tencent_lip", "juhe_video"])

    response = client.post(f"/v/{session.link_token}/challenge")
    assert response.status_code == 503 and response.json()["error"]["code"] == "vendor_unavailable"
    session.refresh_from_db()
    assert (session.method, session.status, session.attempts_used, session.retryable) == ("tencent_lip", "error", 0,
                                                                                          True)
    assert breaker_state("tencent") == OPEN

    response = client.post(f"/v/{session.link_token}/challenge")  # "Try again"

    assert response.json()["error"]["code"] == "method_changed"
    assert_fell_over(session, was="tencent_lip", now="juhe_video", consent_at=session.consent_at)
    assert calls_to("tencent") == ["livegetfour", "livegetfour"]  # the second never left: the breaker stopped it
    assert VendorCall.objects.filter(vendor="tencent").last().error.startswith("CircuitOpen")


def test_a_timeout_on_a_sent_video_is_never_sent_again_nor_moved_on(faulty, client, alice, clip, settings):
    faulty("juhe", "timeout")
    session = consented_and_routed(client, alice, ["juhe_video", "tencent_photo"])
    client.post(f"/v/{session.link_token}/challenge")
    upload(client, session, clip)

    run_due_tasks()

    session.refresh_from_db()
    assert (session.method, session.status, session.reason, session.attempts_used) == ("juhe_video", "error",
                                                                                       "vendor_timeout", 1)
    assert Submission.objects.get().state == "unanswered"
    assert calls_to("juhe") == ["face_vedio/verify"]


def test_a_billed_refusal_is_an_outcome_not_a_reason_to_move_on(faulty, client, alice, settings):
    """A vendor code that means "misconfigured" is permanent: the next
    vendor is no cure, and the integrator must hear of it."""
    with HttpDouble() as double:
        double.respond = lambda request: (200, {"Content-Type": "application/json"},
                                          json.dumps({"code": 601, "msg": "接口未开通", "charge": False}).encode())
        settings.JUMDATA_BASE_URL = double.url
        session = consented_and_routed(client, alice, ["h5", "tencent_lip"])
        client.post(f"/v/{session.link_token}/h5/start")
    session.refresh_from_db()
    assert (session.method, session.status, session.methods_tried) == ("h5", "error", ["h5"])


def test_the_last_method_down_ends_the_attempt_as_before(faulty, client, alice):
    faulty("tencent", "refused")
    session = consented_and_routed(client, alice, ["tencent_lip"])
    response = client.post(f"/v/{session.link_token}/challenge")
    assert response.status_code == 503
    session.refresh_from_db()
    assert (session.method, session.status, session.attempts_used, session.methods_tried) == (
        "tencent_lip", "error", 0, ["tencent_lip"])


def test_a_fixed_method_never_moves(faulty, client, alice):
    faulty("tencent", "refused")
    response = api(client, alice.key, {"method": "tencent_lip", "external_ref": "r"})
    session = VerificationSession.objects.get(pk=response.json()["id"])
    client.post(f"/v/{session.link_token}/consent")
    assert client.post(f"/v/{session.link_token}/challenge").status_code == 503
    session.refresh_from_db()
    assert (session.method, session.status) == ("tencent_lip", "error")


def test_a_supervisor_sets_the_clients_order_in_the_back_office(alice, admin_client):
    url = f"/admin/verification/apiclient/{alice.pk}/methods/"
    assert admin_client.get(f"/admin/verification/apiclient/{alice.pk}/change/").content.decode().count(url) == 1

    response = admin_client.post(url, {"methods": "h5, nope"})
    assert response.status_code == 200 and "unknown method(s): nope" in response.content.decode()
    response = admin_client.post(url, {"methods": "tencent_photo, h5"})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.methods == ["tencent_photo", "h5"]


def test_a_reviewer_cannot_set_an_order(alice, client, django_user_model):
    from django.contrib.auth.models import Permission

    reviewer = django_user_model.objects.create_user("rita", password="pw-long-enough-1", is_staff=True)
    reviewer.user_permissions.add(Permission.objects.get(codename="view_apiclient"))  # sees clients, no more
    client.force_login(reviewer)
    response = client.post(f"/admin/verification/apiclient/{alice.pk}/methods/", {"methods": "h5"})
    assert response.status_code == 403
    alice.refresh_from_db()
    assert alice.methods == []


def test_the_back_office_shows_the_route(faulty, client, alice, admin_client):
    faulty("jumdata", "refused")
    session = consented_and_routed(client, alice, ["h5", "tencent_lip"])
    client.post(f"/v/{session.link_token}/h5/start")
    page = admin_client.get(f"/admin/verification/verificationsession/{session.pk}/change/").content.decode()
    assert "h5 → tencent_lip" in page and "auto" in page


# --- sessions from before auto -------------------------------------------------------------

ROUTING_MIGRATION = ("verification", "0031_auto_routing")


def test_the_migration_keeps_what_earlier_sessions_ran():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from tests.flows.test_encryption_at_rest import migrate

    executor = MigrationExecutor(connection)
    previous = executor.loader.get_migration(*ROUTING_MIGRATION).dependencies
    latest = executor.loader.graph.leaf_nodes()
    old_apps = migrate(previous)
    OldSession = old_apps.get_model("verification", "VerificationSession")
    lip = OldSession.objects.create(method="tencent_lip", external_ref="a", link_token="t-a")
    h5 = OldSession.objects.create(method="h5", external_ref="b", link_token="t-b")

    migrate(latest)

    for old, method in ((lip, "tencent_lip"), (h5, "h5")):
        session = VerificationSession.objects.get(pk=old.pk)
        assert (session.method, session.method_requested, session.methods_tried) == (method, method, [method])


# --- a hosted page's vendor down: the next hosted page opens at once --------------------------


class DownHosted:
    """A hosted-page method (as FaceID's H5 will be) whose vendor is
    unreachable: its start never leaves the machine."""

    @staticmethod
    def make():
        from verification.methods.h5 import JumdataH5
        from verification.vendors.base import VendorConnectionError

        class Method(JumdataH5):
            name = "down_hosted"

            def hosted_page_origin(self):
                return "https://hosted.vendor.example"

            def start(self, session, *, return_url, recorder):
                raise VendorConnectionError("refused", vendor="jumdata", endpoint="start", reached=False,
                                            billed=False)

        return Method()


def test_a_hosted_page_down_opens_the_next_hosted_page_in_the_same_request(sandbox, client, alice, monkeypatch):
    from verification.methods import REGISTRY

    monkeypatch.setitem(REGISTRY, "down_hosted", DownHosted.make())
    session = consented_and_routed(client, alice, ["down_hosted", "h5"])
    page = client.get(f"/v/{session.link_token}/")
    # The start form may end on either vendor's page: both are allowed form targets.
    assert "https://hosted.vendor.example" in page["Content-Security-Policy"]
    assert sandbox.url in page["Content-Security-Policy"].split("form-action")[1].split(";")[0]

    response = client.post(f"/v/{session.link_token}/h5/start")

    assert response.status_code == 302
    assert response["Location"].startswith(f"{sandbox.url}/sandbox/jumdata/lifecheck/h5/v2/html?token=")
    session.refresh_from_db()
    assert (session.method, session.methods_tried) == ("h5", ["down_hosted", "h5"])
    assert (session.status, session.attempts_used) == ("in_progress", 1)  # one attempt: the one running
    assert calls_to("jumdata") == ["init"]


def test_the_demo_landing_page_starts_an_auto_session_over_every_method(client):
    from verification.methods import REGISTRY

    assert b'id="demo-auto"' in client.get("/").content
    response = client.post("/demo/sessions", {"method": "auto"})

    session = VerificationSession.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/v/{session.link_token}/"
    assert (session.method, session.method_requested, session.method_order) == ("", "auto", list(REGISTRY))
