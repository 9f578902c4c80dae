"""Desktop Chromium records H.264 when the recorder asks for it (with Opus,
in MP4 or Matroska), and the portal sends that picture to the vendor as it
was recorded: its packets copied, never through the encoder; only the sound
is made AAC. A real headless Chromium at desktop size, fake camera and
microphone, the Tencent sandbox as the vendor."""

import io
import statistics

import av
import pytest

from sandbox import media as sandbox_media
from tests.browser.test_video import (
    consent,
    let_the_server_finish,
    new_session,
    open_camera,
    record,
    recorded_clip,
    result_after_reload,
    upload,
)
from tests.support.browser import chromium, wait
from tests.support.browser_media import fake_media_args, write_fake_media
from verification.media import normalise

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def fake_media(tmp_path_factory):
    return write_fake_media(tmp_path_factory.mktemp("fake-media"))


@pytest.fixture
def desktop_browser(fake_media):
    """Desktop Chromium (no phone emulation) with the fake devices."""
    driver = chromium(extra_args=fake_media_args(fake_media), phone=False)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def vendor_received(monkeypatch):
    """The bytes of every video the sandbox vendor was sent."""
    received = []
    probe = sandbox_media.probe_video

    def keep(source, **kwargs):
        received.append(bytes(source))
        return probe(source, **kwargs)

    monkeypatch.setattr(sandbox_media, "probe_video", keep)
    return received


@pytest.fixture
def encoder_calls(monkeypatch):
    """Each time the portal re-encoded a picture (the call goes through, so
    a regression fails on the assertion, not on a broken flow)."""
    calls = []
    encode = normalise._encode_h264_aac

    def counted(*args, **kwargs):
        calls.append(kwargs.get("facts"))
        return encode(*args, **kwargs)

    monkeypatch.setattr(normalise, "_encode_h264_aac", counted)
    return calls


def wait_for_polls(browser, count):
    wait(browser, 10).until(lambda b: len(b.execute_script("return window.statusPolls")) >= count)
    return browser.execute_script("return window.statusPolls")


def streams_and_video_packets(data: bytes):
    """The container's name, each stream's codec, and the H.264 picture as
    its NAL units packet by packet: the coded bytes, whichever framing the
    container uses (Chromium's Matroska has start codes, MP4 lengths)."""
    with av.open(io.BytesIO(data)) as container:
        codecs = {s.type: s.codec_context.name for s in container.streams}
        length_prefixed = (container.streams.video[0].codec_context.extradata or b"\0")[0] == 1
        video = [nal_units(bytes(p), length_prefixed) for p in container.demux(video=0) if p.size]
    return container.format.name, codecs, video


def nal_units(packet: bytes, length_prefixed: bool) -> list[bytes]:
    if not length_prefixed:
        # A NAL unit neither starts nor ends with a zero byte.
        return [unit.strip(b"\0") for unit in packet.split(b"\0\0\1") if unit.strip(b"\0")]
    units, at = [], 0
    while at < len(packet):
        size = int.from_bytes(packet[at:at + 4], "big")
        units.append(packet[at + 4:at + 4 + size])
        at += 4 + size
    return units


@pytest.mark.parametrize(
    "refused, recorded_type",
    [((), "video/mp4"), (("video/mp4;codecs=avc1,opus",), "video/x-matroska")],
    ids=["mp4", "matroska"],
)
def test_a_desktop_chromium_recording_reaches_the_vendor_as_the_h264_it_recorded(
    sandbox, desktop_browser, vendor_received, encoder_calls, refused, recorded_type
):
    browser = desktop_browser
    session = new_session("tencent_lip")
    consent(browser, sandbox, session)
    open_camera(browser)
    # Without MP4 + Opus (as a Chromium that cannot mux Opus into MP4 would
    # answer), the recorder's next choice, "video/webm;codecs=h264,opus".
    browser.execute_script(
        "const refused = arguments[0], asks = MediaRecorder.isTypeSupported.bind(MediaRecorder);"
        "window.askedTypes = [];"
        "MediaRecorder.isTypeSupported = t => { window.askedTypes.push(t); return !refused.includes(t) && asks(t); };",
        list(refused),
    )

    record(browser)

    asked = browser.execute_script("return window.askedTypes")
    h264_first = ["video/mp4;codecs=avc1.42E01E,mp4a.40.2", "video/mp4;codecs=avc1,opus", "video/webm;codecs=h264,opus"]
    assert asked == h264_first[: 2 + len(refused)], "H.264 asked for first; VP9 never"
    assert recorded_clip(browser)["type"] == recorded_type
    browser.execute_script(
        "window.statusPolls = []; const ask = window.fetch;"
        "window.fetch = (url, options) => { if (String(url).endsWith('/status')) window.statusPolls.push(Date.now());"
        " return ask(url, options); };"
    )
    waiting, form = upload(browser)
    uploaded_at = browser.execute_script("return Date.now()")
    assert form["video"] == "recording." + {"video/mp4": "mp4", "video/x-matroska": "mkv"}[recorded_type]
    polls = wait_for_polls(browser, 3)
    let_the_server_finish(session)
    result_after_reload(browser, waiting, "passed")
    # The page polls every half second while the outcome is due, not every
    # two: it shows the outcome well within a second of the portal recording it.
    gaps = [later - earlier for earlier, later in zip([uploaded_at, *polls], polls)]
    assert statistics.median(gaps) < 900, gaps
    shown_after = browser.execute_script("return performance.timeOrigin") / 1000 - session.completed_at.timestamp()
    assert shown_after < 1.5, f"the page reloaded {shown_after:.2f} s after the outcome was recorded"

    submission = session.submissions.get()
    with submission.original.open("rb") as file:
        container, codecs, recorded = streams_and_video_packets(file.read())
    assert container == {"video/mp4": "mov,mp4,m4a,3gp,3g2,mj2", "video/x-matroska": "matroska,webm"}[recorded_type]
    assert codecs == {"video": "h264", "audio": "opus"}, "what desktop Chromium recorded"
    assert submission.facts["video_codec"] == "h264" and submission.facts["audio_codec"] == "opus"

    assert len(vendor_received) == 1
    sent_container, sent_codecs, sent = streams_and_video_packets(vendor_received[0])
    assert sent_container.startswith("mov,mp4") and sent_codecs == {"video": "h264", "audio": "aac"}
    assert sent == recorded, "the vendor got the picture's packets as Chromium recorded them"
    assert encoder_calls == [], "the picture never went through the encoder"
