"""The method registry: each method states what it needs and does; nothing
else in the portal compares method names. No database: methods never
touch it."""

import pytest

from verification.domain.outcome import Outcome
from verification.methods import REGISTRY, choices, method_of
from verification.methods.base import HOSTED, PHOTO, VIDEO, Challenge, Method


class Session:
    """What a method reads of a session."""

    def __init__(self, **fields):
        self.pk = "s-1"
        self.options = fields.pop("options", {})
        self.__dict__.update(fields)


def test_every_method_is_registered_once_under_its_own_name():
    assert list(REGISTRY) == ["h5", "tencent_lip", "tencent_idcard", "juhe_video", "juhe_video_auth", "tencent_photo",
                             "faceid_h5", "faceid_lip"]
    assert all(name == method.name for name, method in REGISTRY.items())
    assert [name for name, _label in choices()] == list(REGISTRY)
    with pytest.raises(KeyError):
        method_of("tencent_faceid")


@pytest.mark.parametrize(
    "name, page, needs_identity, photo, allow",
    [
        ("h5", HOSTED, False, False, "camera 'src' "),
        ("tencent_lip", VIDEO, False, True, "camera; microphone"),
        ("tencent_idcard", VIDEO, True, False, "camera; microphone"),
        ("juhe_video", VIDEO, False, False, "camera; microphone"),
        ("juhe_video_auth", VIDEO, True, False, "camera; microphone"),
        ("tencent_photo", PHOTO, False, False, "camera"),
    ],
)
def test_each_method_says_what_it_needs_and_how_it_may_be_framed(name, page, needs_identity, photo, allow):
    method = method_of(name)
    assert (method.page, method.needs_identity, method.accepts_reference_photo) == (page, needs_identity, photo)
    assert method.iframe_allow().startswith(allow)
    assert method.vendor.DISPLAY_NAME and method.label


def test_the_h5_frame_names_the_vendors_page_it_navigates_to(settings):
    settings.JUMDATA_BASE_URL = "https://api.jumdata.com"
    assert method_of("h5").iframe_allow() == "camera 'src' https://api.jumdata.com"
    assert method_of("h5").hosted_page_origin() == "https://api.jumdata.com"


@pytest.mark.parametrize(
    "name, realname, idcard, photo, errors",
    [
        ("tencent_idcard", "", "", False, {"realname": "required for tencent_idcard"}),
        ("juhe_video_auth", "张三", "", False, {"idcard": "required for juhe_video_auth"}),
        ("tencent_idcard", "张三", "11010519491231002X", False, {}),
        ("tencent_lip", "", "", True, {}),
        ("h5", "", "", True, {"reference_photo": "h5 does not compare against a reference photo"}),
    ],
)
def test_requirements_are_the_methods_own(name, realname, idcard, photo, errors):
    assert method_of(name).requirement_errors(realname=realname, idcard=idcard, has_reference_photo=photo) == errors


@pytest.mark.parametrize(
    "name, options, cleaned, errors",
    [
        ("h5", {"actions": "LookFront, BlinkEye"}, {"actions": ["LookFront", "BlinkEye"]}, {}),
        ("h5", {"actions": ["Dance"]}, None, {"options.actions"}),
        ("h5", {"colors": ["#FFFFFF"]}, None, {"options.colors"}),
        ("h5", {"liveness_type": 1}, None, {"options"}),
        ("juhe_video", {"liveness_type": 2}, {"liveness_type": 2}, {}),
        ("juhe_video", {"liveness_type": True}, None, {"options.liveness_type"}),
        ("juhe_video_auth", {"rate_type": 7}, {"rate_type": 7}, {}),
        ("juhe_video_auth", {"rate_type": 8}, None, {"options.rate_type"}),
        ("tencent_lip", {"rate_type": 1}, None, {"options"}),
        ("tencent_photo", {}, {}, {}),
    ],
)
def test_options_are_checked_by_their_method_before_anything_is_stored(name, options, cleaned, errors):
    got, problems = method_of(name).clean_options(options)
    assert set(problems) == set(errors)
    if not errors:
        assert got == cleaned


@pytest.mark.parametrize(
    "name, options, speaks",
    [
        ("tencent_lip", {}, True),
        ("tencent_idcard", {}, True),
        ("juhe_video", {"liveness_type": 1}, True),
        ("juhe_video", {"liveness_type": 2}, False),
        ("juhe_video", {}, False),
        ("juhe_video_auth", {}, False),
        ("tencent_photo", {}, False),
        ("h5", {}, False),
    ],
)
def test_only_read_aloud_challenges_need_speech(name, options, speaks):
    assert method_of(name).needs_speech(Session(options=options)) is speaks


def test_juhe_issues_its_own_challenges_and_the_page_names_the_actions():
    juhe = method_of("juhe_video")
    digits = juhe.new_challenge(Session(options={"liveness_type": 1}), recorder=None)
    assert digits.kind == "digits" and len(digits.value) == 4 and digits.value.isdigit()
    actions = juhe.new_challenge(Session(options={"liveness_type": 2}), recorder=None)
    assert actions.kind == "actions" and sorted(actions.value.split(",")) == ["1", "2"]
    assert sorted(juhe.challenge_for_page(actions)) == ["close_eyes", "open_mouth"]
    assert juhe.new_challenge(Session(options={}), recorder=None) == Challenge.NONE
    assert juhe.challenge_for_page(Challenge.NONE) is None


def test_a_method_that_does_not_record_says_so_rather_than_guessing():
    class Nothing(Method):
        name = "nothing"

    with pytest.raises(NotImplementedError, match="must provide send"):
        Nothing().send(None, None, None, recorder=None)
    with pytest.raises(NotImplementedError, match="must provide start"):
        Nothing().start(None, return_url="", recorder=None)


def test_an_outcome_is_one_of_the_outcome_statuses_and_a_pass_is_final():
    assert Outcome.passed(vendor="juhe", vendor_code=0).vendor_code == "0"
    with pytest.raises(ValueError):
        Outcome("processing", "awaiting_result")
    with pytest.raises(ValueError):
        Outcome("passed", "passed", retryable=True)
