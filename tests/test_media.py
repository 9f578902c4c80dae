"""Uploaded media are judged by their content and normalised to what the
vendors take: MP4, H.264 + AAC, moov first, within the size limit."""

import dataclasses

import av
import pytest

from tests.media_samples import make_jpeg, make_png, make_video
from verification import media


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return {
        "webm": make_video(folder / "recorder.webm", container="webm", video_codec="libvpx-vp9", audio_codec="libopus"),
        "vp9_in_mp4": make_video(folder / "chromium.mp4", video_codec="libvpx-vp9", audio_codec="libopus"),
        "phone": make_video(folder / "phone.mp4"),
        "silent_stream": make_video(folder / "silence.mp4", audio="silence"),
        "no_audio": make_video(folder / "mute.mp4", audio=None),
        "short": make_video(folder / "short.mp4", seconds=1.0),
        "long": make_video(folder / "long.mp4", seconds=12.0),
        "tiny": make_video(folder / "tiny.mp4", width=240, height=320),
        "landscape_hd": make_video(folder / "hd.mp4", width=1280, height=720, seconds=3.0),
        "chromium_h264": make_video(folder / "chromium-h264.mp4", fragmented=True),
        "h264_opus": make_video(folder / "h264-opus.mp4", audio_codec="libopus"),
    }


def test_a_mediarecorder_webm_has_its_duration_found_by_scanning(clips):
    facts = media.probe_video(clips["webm"])
    assert facts.container == "webm" and facts.video_codec == "vp9" and facts.audio_codec == "opus"
    assert 5.8 < facts.duration < 6.2
    assert (facts.width, facts.height) == (480, 640)


def test_the_codecs_not_the_container_decide(clips):
    facts = media.probe_video(clips["vp9_in_mp4"])
    assert facts.container == "mp4" and facts.video_codec == "vp9"


@pytest.mark.parametrize("clip", ["webm", "vp9_in_mp4", "phone"])
def test_normalising_gives_h264_aac_mp4_with_moov_first(clips, tmp_path, clip):
    facts = media.probe_video(clips[clip])
    target = tmp_path / "out.mp4"

    result = media.normalise_video(clips[clip], target, facts=facts, max_bytes=3_000_000)

    again = media.probe_video(target)
    assert (again.video_codec, again.audio_codec, again.container) == ("h264", "aac", "mp4")
    assert (again.width, again.height) == (480, 640) and abs(again.duration - facts.duration) < 0.2
    head = target.read_bytes()[:64]
    assert head.index(b"moov") < 64, "faststart: the moov atom comes before the media"
    assert result.size == target.stat().st_size < 3_000_000


def packets(path):
    with av.open(str(path)) as container:
        return [(p.stream.type, bytes(p)) for p in container.demux() if p.size]


@pytest.mark.parametrize("clip", ["phone", "chromium_h264", "no_audio"])
def test_what_phones_record_is_copied_not_re_encoded(clips, tmp_path, clip):
    facts = media.probe_video(clips[clip])
    target = tmp_path / "out.mp4"

    result = media.normalise_video(clips[clip], target, facts=facts, max_bytes=3_000_000)

    assert result.remuxed
    assert sorted(packets(target)) == sorted(packets(clips[clip]))
    head = target.read_bytes()[:64]
    assert head.index(b"moov") < 64 and b"moof" not in target.read_bytes(), "one faststart MP4, not fragments"
    again = media.probe_video(target)
    assert (again.video_codec, again.width, again.height) == ("h264", 480, 640)


def test_a_copied_video_leaves_the_files_metadata_behind(tmp_path):
    source = make_video(tmp_path / "phone.mp4")
    tagged = tmp_path / "tagged.mp4"
    with av.open(str(source)) as original, av.open(str(tagged), "w", format="mp4") as output:
        output.metadata["location"] = "+31.2304+121.4737/"
        copies = {s.index: output.add_stream_from_template(s) for s in original.streams}
        for packet in original.demux():
            if packet.dts is not None:
                packet.stream = copies[packet.stream.index]
                output.mux(packet)
    target = tmp_path / "out.mp4"

    media.normalise_video(tagged, target, facts=media.probe_video(tagged), max_bytes=3_000_000)

    with av.open(str(target)) as result:
        assert "location" not in result.metadata


@pytest.mark.parametrize(
    "clip, change, why",
    [("h264_opus", {}, "Opus sound"), ("phone", {"rotation": 90, "width": 640, "height": 480}, "turned by a rotation flag"),
     ("landscape_hd", {}, "larger than vendors need")],
)
def test_h264_that_vendors_cannot_take_as_it_is_is_transcoded(clips, tmp_path, clip, change, why):
    facts = dataclasses.replace(media.probe_video(clips[clip]), **change)
    target = tmp_path / "out.mp4"

    result = media.normalise_video(clips[clip], target, facts=facts, max_bytes=3_000_000)

    assert not result.remuxed, why
    again = media.probe_video(target)
    assert (again.video_codec, again.audio_codec) == ("h264", "aac")
    if change.get("rotation") == 90:
        assert (again.width, again.height) == (640, 480)


def test_h264_over_the_size_limit_is_transcoded_to_fit(clips, tmp_path):
    facts = media.probe_video(clips["phone"])
    limit = clips["phone"].stat().st_size - 1
    target = tmp_path / "out.mp4"

    result = media.normalise_video(clips["phone"], target, facts=facts, max_bytes=limit)

    assert not result.remuxed and target.stat().st_size <= limit


def test_big_frames_are_scaled_down_and_kept_under_the_limit(clips, tmp_path):
    facts = media.probe_video(clips["landscape_hd"])
    target = tmp_path / "out.mp4"
    media.normalise_video(clips["landscape_hd"], target, facts=facts, max_bytes=400_000)
    again = media.probe_video(target)
    assert (again.width, again.height) == (960, 540)
    assert target.stat().st_size <= 400_000


@pytest.mark.parametrize(
    "clip, needs_speech, code",
    [("short", False, "too_short"), ("long", False, "too_long"), ("tiny", False, "too_small"),
     ("no_audio", True, "no_audio")],
)
def test_what_a_vendor_would_refuse_is_refused_first(clips, clip, needs_speech, code):
    with pytest.raises(media.MediaRejected) as rejected:
        media.check_video(media.probe_video(clips[clip]), needs_speech=needs_speech)
    assert rejected.value.code == code and str(rejected.value.message)


def test_a_silent_video_is_not_accepted_where_speech_is_needed(clips):
    silent = media.probe_video(clips["silent_stream"], measure_speech=True)
    with pytest.raises(media.MediaRejected) as rejected:
        media.check_video(silent, needs_speech=True)
    assert rejected.value.code == "too_quiet"

    spoken = media.probe_video(clips["phone"], measure_speech=True)
    media.check_video(spoken, needs_speech=True)
    assert -30 < spoken.speech_dbfs < -10
    assert spoken.as_dict()["speech_dbfs"] == round(spoken.speech_dbfs, 1)


def test_the_speech_level_is_measured_only_when_asked(clips):
    facts = media.probe_video(clips["phone"])
    assert facts.speech_dbfs is None and "speech_dbfs" not in facts.as_dict()
    with pytest.raises(ValueError):
        media.check_video(facts, needs_speech=True)


def test_an_over_long_video_is_refused_without_reading_it_to_the_end(clips, tmp_path):
    minute = make_video(tmp_path / "minute.webm", seconds=60, width=480, height=640, fps=2, container="webm",
                      video_codec="libvpx-vp9", audio_codec="libopus")

    facts = media.probe_video(minute, measure_speech=True)

    assert media.MAX_SECONDS < facts.duration < 15  # stopped once past the limit
    with pytest.raises(media.MediaRejected) as rejected:
        media.check_video(facts, needs_speech=True)
    assert rejected.value.code == "too_long"


def test_silent_methods_take_a_video_without_sound(clips):
    media.check_video(media.probe_video(clips["no_audio"]), needs_speech=False)


@pytest.mark.parametrize(
    "content",
    [b"", b"not a video at all", b"\x00" * 4096, b"<html><body>hi</body></html>", make_jpeg()],
    ids=["empty", "text", "zeros", "html", "jpeg"],
)
def test_anything_but_a_video_is_refused(tmp_path, content):
    path = tmp_path / "upload.mp4"
    path.write_bytes(content)
    with pytest.raises(media.MediaRejected) as rejected:
        media.probe_video(path)
    assert rejected.value.code in ("not_a_video", "unreadable")


def test_a_truncated_mp4_is_refused(clips, tmp_path):
    path = tmp_path / "cut.mp4"
    path.write_bytes(clips["phone"].read_bytes()[:4000])
    with pytest.raises(media.MediaRejected):
        facts = media.probe_video(path)
        media.check_video(facts, needs_speech=False)
        media.normalise_video(path, tmp_path / "out.mp4", facts=facts, max_bytes=3_000_000)


@pytest.mark.parametrize("make, kind", [(make_jpeg, "jpeg"), (make_png, "png")])
def test_photos_are_recognised_by_content(tmp_path, make, kind):
    path = tmp_path / "photo.bin"
    path.write_bytes(make())
    assert media.probe_image(path) == media.ImageFacts(format=kind, width=480, height=640)


@pytest.mark.parametrize("content", [b"GIF89a" + b"\x00" * 100, b"\xff\xd8\xff\xe0" + b"\x00" * 50])
def test_a_photo_that_is_not_a_decodable_jpeg_or_png_is_refused(tmp_path, content):
    path = tmp_path / "photo.jpg"
    path.write_bytes(content)
    with pytest.raises(media.MediaRejected):
        media.probe_image(path)


def test_a_frame_larger_than_any_phone_records_is_refused_before_decoding(tmp_path):
    huge = make_video(tmp_path / "huge.mp4", seconds=1, width=4112, height=480, fps=2, audio=None)

    with pytest.raises(media.MediaRejected) as refused:
        media.probe_video(huge)

    assert refused.value.code == "frame_too_large"


@pytest.mark.parametrize("make", [make_jpeg, make_png])
def test_a_photo_declares_its_size_before_it_is_decoded(tmp_path, make):
    photo = tmp_path / "photo"
    photo.write_bytes(make(width=480, height=640))

    assert media.probe_image(photo).width == 480
    assert media._declared_image_size(photo.read_bytes()[: media.IMAGE_HEADER_BYTES], "jpeg" if make is make_jpeg else "png") == (480, 640)


def test_a_png_declaring_a_gigapixel_is_refused_without_decoding(tmp_path):
    header = bytearray(make_png(width=480, height=640))
    header[16:24] = (40_000).to_bytes(4, "big") + (40_000).to_bytes(4, "big")  # the IHDR, forged
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(bytes(header))

    with pytest.raises(media.MediaRejected) as refused:
        media.probe_image(bomb)

    assert refused.value.code == "frame_too_large"


def test_a_jpeg_cut_before_its_size_is_unreadable(tmp_path):
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(make_jpeg(width=480, height=640)[:20])

    with pytest.raises(media.MediaRejected) as refused:
        media.probe_image(cut)

    assert refused.value.code == "unreadable"


def test_a_process_transcodes_no_more_videos_at_once_than_it_has_slots(clips, tmp_path, monkeypatch):
    import threading
    import time

    running, most = [], []

    def encode(src, dst, **kwargs):
        running.append(src)
        most.append(len(running))
        time.sleep(0.05)
        running.pop()
        return media.Normalised(facts=kwargs["facts"], size=0)

    monkeypatch.setattr(media, "_TRANSCODE_SLOTS", threading.BoundedSemaphore(2))
    monkeypatch.setattr(media, "_encode_h264_aac", encode)
    facts = media.probe_video(clips["webm"])
    threads = [threading.Thread(target=media.normalise_video, args=(clips["webm"], tmp_path / f"{n}.mp4"),
                                kwargs={"facts": facts, "max_bytes": 3_000_000}) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(most) == 6 and max(most) == 2
