"""faceid_h5 and faceid_lip: what they need from the integrator, and how a
FaceID answer becomes an outcome (every part of the verdict, never just
"no error"). End to end against the sandbox: tests/flows/test_faceid_flows.py."""

from types import SimpleNamespace

import pytest

from verification.methods import method_of
from verification.methods.faceid_h5 import h5_outcome
from verification.methods.faceid_lip import lip_outcome
from verification.vendors import faceid

ID, NAME = "11010519491231002X", "张三"


def info(**fields):
    base = dict(err_code=0, err_msg="成功", live_status=0, compare_status=0, sim=92.0, idcard=ID, name=NAME,
                best_frame=b"\xff\xd8frame", video=b"\x00\x00\x00\x18ftypmp4", request_id="r")
    return faceid.DetectInfo(**{**base, **fields})


def session(idcard=ID, realname=NAME):
    return SimpleNamespace(idcard=idcard, realname=realname)


def test_lip_needs_an_identity_or_a_reference_photo_but_not_both():
    lip = method_of("faceid_lip")
    assert lip.requirement_errors(realname=NAME, idcard=ID, has_reference_photo=False) == {}
    assert lip.requirement_errors(realname="", idcard="", has_reference_photo=True) == {}
    assert set(lip.requirement_errors(realname="", idcard="", has_reference_photo=False)) == {"realname"}
    assert set(lip.requirement_errors(realname=NAME, idcard="", has_reference_photo=False)) == {"idcard"}
    assert set(lip.requirement_errors(realname=NAME, idcard=ID, has_reference_photo=True)) == {"reference_photo"}
    assert lip.needs_speech(None) and lip.max_upload_bytes == 6_000_000


def test_h5_takes_an_identity_when_given_and_refuses_a_photo():
    h5 = method_of("faceid_h5")
    assert h5.is_hosted and h5.requirement_errors(realname="", idcard="", has_reference_photo=False) == {}
    assert set(h5.requirement_errors(realname="", idcard="", has_reference_photo=True)) == {"reference_photo"}


def test_a_full_h5_pass_keeps_the_frame_and_the_video():
    outcome = h5_outcome(info(), session(), threshold=70)
    assert (outcome.status, outcome.reason, outcome.vendor) == ("passed", "passed", "faceid")
    assert outcome.images[0].kind == "best_frame" and outcome.video.startswith(b"\x00\x00\x00\x18ftyp")
    assert outcome.scores["sim"] == 92.0


@pytest.mark.parametrize("change, reason", [
    (dict(live_status=1002), "not_live"),
    (dict(compare_status=2016), "face_mismatch"),
    (dict(sim=69.99), "face_mismatch"),
    (dict(sim=None), "face_mismatch"),
    (dict(idcard="110105199001010010"), "identity_mismatch"),
    (dict(name="李四"), "identity_mismatch"),
])
def test_an_error_code_of_zero_is_not_enough_to_pass(change, reason):
    outcome = h5_outcome(info(**change), session(), threshold=70)
    assert (outcome.status, outcome.reason) == ("failed", reason)


def test_without_an_identity_the_one_tencent_verified_is_accepted_but_one_is_needed():
    assert h5_outcome(info(), session("", ""), threshold=70).status == "passed"
    assert h5_outcome(info(idcard="", name=""), session("", ""), threshold=70).reason == "identity_unverifiable"


@pytest.mark.parametrize("code, status, reason, retryable", [
    (1002, "failed", "not_live", False),
    (2006, "failed", "identity_mismatch", False),
    (2016, "failed", "face_mismatch", True),
    (1101, "failed", "lip_code_mismatch", True),
    (15, "expired", "token_expired", True),
    (1001, "error", "vendor_rejected", True),
    (1, "error", "vendor_rejected", False),
    (424242, "error", "vendor_rejected", True),
])
def test_h5_codes_map_to_the_portals_reasons(code, status, reason, retryable):
    outcome = h5_outcome(info(err_code=code), session(), threshold=70)
    assert (outcome.status, outcome.reason, outcome.retryable, outcome.vendor_code) == (
        status, reason, retryable, str(code))


@pytest.mark.parametrize("result, sim, status, reason", [
    ("Success", 92.5, "passed", "passed"),
    ("Success", 50.0, "failed", "face_mismatch"),
    ("Success", None, "failed", "face_mismatch"),
    ("FailedOperation.LipVoiceRecognize", 0, "failed", "lip_code_mismatch"),
    ("FailedOperation.LivessDetectFake", 0, "failed", "not_live"),
    ("FailedOperation.CompareLowSimilarity", 35.0, "failed", "face_mismatch"),
    ("FailedOperation.IdNameMisMatch", 0, "failed", "identity_mismatch"),
    ("FailedOperation.IdNoExistSystem", 0, "failed", "identity_unverifiable"),
    ("FailedOperation.LipVoiceLow", 0, "failed", "poor_recording"),
    ("FailedOperation.CompareSystemError", 0, "error", "vendor_rejected"),
])
def test_lip_results_map_to_the_portals_reasons(result, sim, status, reason):
    answer = faceid.Liveness(result=result, description="", sim=sim, best_frame=None, request_id="r")
    outcome = lip_outcome(answer, threshold=70)
    assert (outcome.status, outcome.reason, outcome.vendor_code) == (status, reason, result)


def test_every_reason_has_a_message_in_both_languages():
    from django.utils import translation

    for table in (faceid.H5_CODES, faceid.NAMED_CODES):
        for code, entry in table.items():
            if entry.reason == "passed":
                continue
            with translation.override("zh-hans"):
                chinese = str(entry.message)
            with translation.override("en"):
                english = str(entry.message)
            assert chinese and chinese != english, code
