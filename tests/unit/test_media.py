"""Uploaded media are judged by their content and normalised to what the
vendors take: MP4, H.264 + AAC, moov first, within the size limit."""

import dataclasses
import resource
import struct

import av
import pytest

from tests.support.media_samples import (
    make_animated_png,
    make_jpeg,
    make_jpeg_of_scans,
    make_jpeg_with_a_second_frame,
    make_png,
    make_png_declaring,
    make_png_inflating_past,
    make_sideways_video,
    make_stalled_recording,
    make_video,
    make_video_with_long_audio,
    png_chunk,
    reencode,
    remux,
    split_png,
    with_extra_stream,
    with_frame_header,
    with_timecode_track,
)
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
        # Desktop Chromium asked for "video/mp4;codecs=avc1,opus" and for
        # "video/webm;codecs=h264,opus" (which gives Matroska).
        "chromium_h264_opus": make_video(folder / "chromium-h264-opus.mp4", audio_codec="libopus", fragmented=True),
        "chromium_h264_opus_mkv": make_video(folder / "chromium-h264-opus.mkv", container="mkv", audio_codec="libopus"),
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


@pytest.mark.parametrize("clip", ["h264_opus", "chromium_h264_opus", "chromium_h264_opus_mkv"])
def test_desktop_chromiums_h264_is_copied_and_only_its_opus_sound_made_aac(clips, tmp_path, clip, monkeypatch):
    def no_encoding(*args, **kwargs):
        raise AssertionError("the picture was re-encoded")

    monkeypatch.setattr(media.normalise, "_encode_h264_aac", no_encoding)
    facts = media.probe_video(clips[clip], measure_speech=True)
    assert (facts.video_codec, facts.audio_codec) == ("h264", "opus")
    target = tmp_path / "out.mp4"

    result = media.normalise_video(clips[clip], target, facts=facts, max_bytes=3_000_000)

    assert result.remuxed and result.audio_transcoded
    assert result.facts.audio_codec == "aac" and result.fingerprint is not None
    video_packets = lambda path: [data for kind, data in packets(path) if kind == "video"]  # noqa: E731
    assert video_packets(target) == video_packets(clips[clip])
    again = media.probe_video(target, measure_speech=True)
    assert (again.container, again.video_codec, again.audio_codec) == ("mp4", "h264", "aac")
    assert abs(again.duration - facts.duration) < 0.1 and abs(again.file_duration - facts.file_duration) < 0.15
    assert abs(again.speech_dbfs - facts.speech_dbfs) < 1.5, "the speech is as loud as it was recorded"
    assert target.read_bytes()[:64].index(b"moov") < 64


def test_copied_h264_whose_opus_sound_runs_past_the_measure_is_refused(clips, tmp_path):
    measured = media.probe_video(clips["chromium_h264_opus_mkv"])
    # The picture's packets stop in time; the sound decoded is counted too.
    understated = dataclasses.replace(measured, duration=2.0, file_duration=2.0, frames=10_000)

    with pytest.raises(media.MediaRejected) as refused:
        media.normalise_video(clips["chromium_h264_opus_mkv"], tmp_path / "out.mp4", facts=understated,
                              max_bytes=3_000_000)

    assert refused.value.code == "too_long"


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
    [("phone", {"rotation": 90, "width": 640, "height": 480}, "turned by a rotation flag"),
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


def test_a_recording_whose_recorder_stalled_is_transcoded_not_refused(tmp_path):
    # Seen in a browser test on a loaded machine: frames repeating the time
    # of the frame before made the muxer refuse the file, and the person
    # was told it could not be read.
    source = make_stalled_recording(tmp_path / "stalled.webm")
    target = tmp_path / "out.mp4"

    result = media.normalise_video(source, target, facts=media.probe_video(source), max_bytes=3_000_000)

    again = media.probe_video(target)
    assert not result.remuxed and again.video_codec == "h264"
    with av.open(str(target)) as output:
        times = [packet.pts for packet in output.demux(video=0) if packet.pts is not None]
    assert len(times) == len(set(times)) and abs(again.duration - 4.0) < 0.2


def test_desktop_h264_whose_recorder_stalled_is_still_copied_not_re_encoded(tmp_path):
    # Seen in the desktop-Chromium browser test on a loaded machine: the
    # copy failed on a repeated time and fell back to a transcode.
    source = make_stalled_recording(tmp_path / "stalled.mkv", codec="libx264", container="mkv")
    target = tmp_path / "out.mp4"

    result = media.normalise_video(source, target, facts=media.probe_video(source), max_bytes=3_000_000)

    assert result.remuxed
    with av.open(str(source)) as recorded, av.open(str(target)) as sent:
        assert [bytes(p) for p in recorded.demux(video=0) if p.size] == [bytes(p) for p in sent.demux(video=0) if p.size]
    with av.open(str(target)) as sent:
        times = [packet.dts for packet in sent.demux(video=0) if packet.dts is not None]
    assert times == sorted(set(times))


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
    header = media.image_header(photo.read_bytes())
    assert (header.width, header.height, header.lowres) == (480, 640, 0)


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

    monkeypatch.setattr(media.normalise, "_TRANSCODE_SLOTS", threading.BoundedSemaphore(2))
    monkeypatch.setattr(media.normalise, "_encode_h264_aac", encode)
    facts = media.probe_video(clips["webm"])
    threads = [threading.Thread(target=media.normalise_video, args=(clips["webm"], tmp_path / f"{n}.mp4"),
                                kwargs={"facts": facts, "max_bytes": 3_000_000}) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(most) == 6 and max(most) == 2


# --- what a file costs before it is decoded --------------------------------------


class Cost:
    """CPU seconds and the growth of the process's peak memory over a block.
    The peak is reset first (Linux: clear_refs 5), so a decode of hundreds of
    megabytes shows even after earlier tests' peaks."""

    def __enter__(self):
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        self.rss_before = self._peak_mb()
        self.cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        return self

    def __exit__(self, *exc):
        after = resource.getrusage(resource.RUSAGE_SELF)
        self.cpu_seconds = (after.ru_utime + after.ru_stime) - (self.cpu_before.ru_utime + self.cpu_before.ru_stime)
        self.peak_growth_mb = self._peak_mb() - self.rss_before

    @staticmethod
    def _peak_mb() -> int:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmHWM"))


def test_a_small_png_declaring_49_megapixels_of_16_bit_rgba_is_refused_before_decoding(tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(make_png_declaring(7000, 7000, depth=16, colour=6))
    assert bomb.stat().st_size < 400_000 and 7000 * 7000 < media.MAX_PHOTO_PIXELS  # under the old pixel limit

    with Cost() as cost, pytest.raises(media.MediaRejected) as refused:
        media.probe_image(bomb)

    assert refused.value.code == "frame_too_large"
    # Decoding it takes over a second and 392 MB (7000 × 7000 × 4 channels × 2 bytes).
    assert cost.cpu_seconds < 0.1 and cost.peak_growth_mb < 20


def test_decoding_costs_as_much_as_a_control_shows(tmp_path):
    """The measurement above can fail: the same kind of PNG, small enough to
    be decoded, shows its frame in the peak memory."""
    control = tmp_path / "control.png"
    control.write_bytes(make_png_declaring(2800, 2800, depth=16, colour=6))  # 63 MB of frame, under the limit

    with Cost() as cost:
        media.probe_image(control)

    assert cost.peak_growth_mb > 50


@pytest.mark.parametrize(
    "depth, colour, width, height, frame_bytes",
    [(16, 6, 7000, 7000, 7000 * 7000 * 8), (8, 2, 4000, 3000, 4000 * 3000 * 3), (8, 3, 4000, 3000, 4000 * 3000),
     (16, 0, 100, 100, 100 * 100 * 2), (8, 4, 100, 100, 100 * 100 * 2)],
    ids=["rgba16", "rgb8", "palette", "grey16", "grey-alpha8"],
)
def test_a_png_costs_its_pixels_times_channels_times_bytes_per_sample(depth, colour, width, height, frame_bytes):
    head = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))

    assert media.photos._png_ihdr(head[16:29])[5] == frame_bytes


def test_a_png_whose_data_inflates_past_its_size_is_refused_at_the_first_excess_byte(tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(make_png_inflating_past(480, 640, extra_mb=200))  # FFmpeg would inflate all 200 MB

    with Cost() as cost, pytest.raises(media.MediaRejected) as refused:
        media.probe_image(bomb)

    assert refused.value.code == "frame_too_large" and cost.cpu_seconds < 0.1


def test_a_png_in_many_small_chunks_is_read_and_one_in_too_many_is_refused(tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(split_png(make_png(), idat_piece=1))  # some 5,000 chunks of one byte
    assert media.probe_image(photo).width == 480

    photo.write_bytes(split_png(make_png(), idat_piece=8192, junk_chunks=media.MAX_PNG_CHUNKS))
    with Cost() as cost, pytest.raises(media.MediaRejected) as refused:
        media.probe_image(photo)
    assert refused.value.code == "unreadable" and cost.cpu_seconds < 0.1


def test_an_animated_png_is_not_a_photo(tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(make_animated_png())

    with pytest.raises(media.MediaRejected) as refused:
        media.probe_image(photo)

    assert refused.value.code == "animated"


def test_a_48_megapixel_jpeg_is_decoded_at_a_quarter_and_a_progressive_one_is_refused():
    jpeg = make_jpeg()
    baseline = media.image_header(with_frame_header(jpeg, marker=0xC0, width=8000, height=6000))
    assert baseline.lowres == 2 and baseline.decoded_bytes == 2000 * 1500 * 3 // 2  # 4:2:0

    progressive = with_frame_header(jpeg, marker=0xC2, width=8000, height=6000)
    with pytest.raises(media.MediaRejected) as refused:
        media.image_header(progressive)  # 144 MB of coefficients until the last scan
    assert refused.value.code == "frame_too_large"
    assert media.image_header(with_frame_header(jpeg, marker=0xC2, width=4000, height=3000)).decoded_bytes < \
        media.MAX_PHOTO_DECODED_BYTES


def test_a_jpeg_of_thousands_of_scans_is_refused_unread(tmp_path):
    photo = tmp_path / "scans.jpg"
    photo.write_bytes(make_jpeg_of_scans(5000))

    with Cost() as cost, pytest.raises(media.MediaRejected) as refused:
        media.probe_image(photo)

    assert refused.value.code == "frame_too_large" and cost.cpu_seconds < 0.1


@pytest.mark.parametrize("marker", [0xC3, 0xC9, 0xCA])
def test_lossless_and_arithmetic_jpegs_are_refused_unread(tmp_path, marker):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(with_frame_header(make_jpeg(), marker=marker, width=480, height=640))
    with pytest.raises(media.MediaRejected) as refused:
        media.probe_image(photo)
    assert refused.value.code == "unreadable"


def test_a_jpeg_with_a_second_larger_frame_header_is_refused_unread(tmp_path):
    """FFmpeg would take the second frame header's size and decode it."""
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(make_jpeg_with_a_second_frame(7000, 7000))

    with Cost() as cost, pytest.raises(media.MediaRejected) as refused:
        media.probe_image(photo)

    assert refused.value.code == "unreadable" and cost.cpu_seconds < 0.1


# --- the photo the vendor gets ------------------------------------------------------


def stands_upright(grey) -> bool:
    """The cartoon's backdrop darkens from top to bottom (by 60 grey levels):
    at the left edge, clear of the face and shoulders, the top is brighter
    only when the picture stands upright."""
    height, width = grey.shape
    return int(grey[int(height * 0.05), int(width * 0.02)]) - int(grey[int(height * 0.95), int(width * 0.02)]) > 30


def decoded_grey(jpeg: bytes):
    return av.CodecContext.create("mjpeg", "r").decode(av.Packet(jpeg))[0].to_ndarray(format="gray")


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_a_photo_is_sent_upright_whatever_its_exif_orientation(tmp_path, orientation):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(make_jpeg(480, 640, orientation=orientation))

    facts = media.probe_image(photo)
    sent = media.normalise_photo(photo.read_bytes())

    assert not stands_upright(decoded_grey(make_jpeg(480, 640, orientation=3))), "the check can fail: stored turned"
    assert (facts.width, facts.height) == (480, 640)
    header = media.image_header(sent)
    assert (header.width, header.height) == (480, 640)
    assert stands_upright(decoded_grey(sent))
    assert b"Exif" not in sent


def test_the_vendor_gets_a_jpeg_of_a_size_it_takes_and_nothing_else_of_the_file(tmp_path, clips):
    polyglot = make_png(2560, 1920) + clips["phone"].read_bytes()  # a picture with a video behind it

    sent = media.normalise_photo(polyglot)

    header = media.image_header(sent)
    assert (header.kind, header.width, header.height) == ("jpeg", 1280, 960)
    assert len(sent) <= media.VENDOR_PHOTO_MAX_BYTES and b"ftyp" not in sent and sent.endswith(b"\xff\xd9")


# --- every stream counts ------------------------------------------------------------


def test_a_short_video_with_an_hour_of_sound_is_refused_after_reading_eleven_seconds(tmp_path):
    video = make_video_with_long_audio(tmp_path / "hour.mp4", seconds=3, audio_seconds=3600)

    with Cost() as cost:
        facts = media.probe_video(video, measure_speech=True)

    assert facts.duration < 3.1 and media.MAX_SECONDS < facts.file_duration < media.MAX_SECONDS + 1.5
    with pytest.raises(media.MediaRejected) as refused:
        media.check_video(facts, needs_speech=False)
    assert refused.value.code == "too_long"
    # Transcoding its hour of sound costs some 20 CPU-seconds.
    assert cost.cpu_seconds < 0.3


@pytest.mark.parametrize("kind", ["audio", "video", "subtitle", "attachment"])
def test_a_second_track_subtitles_or_an_attached_file_are_refused(clips, tmp_path, kind):
    extra = with_extra_stream(clips["phone"], tmp_path / "extra.mkv", kind)

    with pytest.raises(media.MediaRejected) as refused:
        media.probe_video(extra, measure_speech=True)

    assert refused.value.code == "extra_streams" and str(refused.value.message)


def test_a_phones_data_track_is_accepted_and_counts_toward_the_length(clips, tmp_path):
    within = with_timecode_track(clips["phone"], tmp_path / "within.mov")
    facts = media.probe_video(within)
    media.check_video(facts, needs_speech=False)
    with av.open(str(within)) as phone_file:
        assert "data" in [s.type for s in phone_file.streams]

    target = tmp_path / "out.mp4"
    media.normalise_video(within, target, facts=facts, max_bytes=3_000_000)
    with av.open(str(target)) as result:
        assert sorted(s.type for s in result.streams) == ["audio", "video"]

    late = with_extra_stream(clips["phone"], tmp_path / "late.ts", "data", at_seconds=3600)
    assert media.probe_video(late).longest > media.MAX_SECONDS


@pytest.mark.parametrize("clip, remuxed", [("phone", True), ("webm", False)])
def test_normalising_reads_no_more_than_the_checks_measured(clips, tmp_path, clip, remuxed):
    """A file whose packets said 3 seconds while its frames run on (as if it
    had fooled the probe) is refused when normalising passes the measure."""
    measured = media.probe_video(clips[clip])
    understated = dataclasses.replace(measured, duration=3.0, file_duration=3.0, frames=45)
    assert media.normalise._is_vendor_ready(clips[clip], understated, 3_000_000) is remuxed

    with pytest.raises(media.MediaRejected) as refused:
        media.normalise_video(clips[clip], tmp_path / "out.mp4", facts=understated, max_bytes=3_000_000)

    assert refused.value.code == "too_long"


def test_an_iphone_portrait_video_is_turned_clockwise_to_stand_upright(tmp_path):
    sideways = make_sideways_video(tmp_path / "portrait.mp4")
    facts = media.probe_video(sideways)
    assert (facts.rotation, facts.width, facts.height) == (90, 480, 640)

    target = tmp_path / "out.mp4"
    media.normalise_video(sideways, target, facts=facts, max_bytes=3_000_000)

    with av.open(str(target)) as result:
        grey = next(result.decode(video=0)).to_ndarray(format="gray")
    assert grey.shape == (640, 480) and stands_upright(grey)


# --- fingerprints -------------------------------------------------------------------


@pytest.fixture(scope="module")
def copies(clips, tmp_path_factory):
    """The phone clip sent again in other bytes, and recordings that are not it."""
    folder = tmp_path_factory.mktemp("copies")
    padded = folder / "padded.mp4"
    padded.write_bytes(clips["phone"].read_bytes() + b"\0" * 1000)
    return {
        "padded": padded,
        "remuxed into mkv": remux(clips["phone"], folder / "remuxed.mkv", "mkv"),
        "re-encoded smaller": reencode(clips["phone"], folder / "smaller.mp4", width=360, height=480, crf=36),
        "re-encoded as vp9 webm": clips["webm"],  # the same scene, the browser's encoding
        "another take": make_video(folder / "take.mp4", start=3.7),
        "a take 0.3 s later": make_video(folder / "later.mp4", start=0.3),
        "a still picture": make_video(folder / "still.mp4", moving=False),
    }


def normalised_fingerprint(path, tmp_path):
    facts = media.probe_video(path)
    return media.normalise_video(path, tmp_path / f"{path.stem}-out.mp4", facts=facts, max_bytes=3_000_000).fingerprint


@pytest.mark.parametrize("name, is_copy", [
    ("padded", True), ("remuxed into mkv", True), ("re-encoded smaller", True), ("re-encoded as vp9 webm", True),
    ("another take", False), ("a take 0.3 s later", False), ("a still picture", False),
])
def test_a_recording_sent_again_in_other_bytes_has_a_near_fingerprint(clips, copies, tmp_path, name, is_copy):
    original = normalised_fingerprint(clips["phone"], tmp_path)  # remuxed: sampled by seeking
    other = normalised_fingerprint(copies[name], tmp_path)

    assert original.is_copy_of(other) is is_copy, f"{original.distance(other)} bits apart"
    assert other.is_copy_of(original) is is_copy


def test_a_copy_shares_a_band_with_its_original_and_the_text_form_round_trips(clips, copies, tmp_path):
    original = normalised_fingerprint(clips["phone"], tmp_path)
    copy = normalised_fingerprint(copies["re-encoded smaller"], tmp_path)

    assert set(original.band_keys()) & set(copy.band_keys())
    assert len(original.band_keys()) == 16 and original.max_distance == 15
    assert media.Fingerprint.from_text(original.as_text()) == original
    assert media.Fingerprint.from_text("photo:" + original.as_text()[6:22]).distance(original) is None


@pytest.mark.parametrize("make, is_copy", [
    (lambda: make_png(), True), (lambda: make_jpeg(360, 480), True), (lambda: make_jpeg(480, 640, orientation=6), True),
    (lambda: make_jpeg(480, 640, moment=1.0), False),
], ids=["as png", "smaller", "turned by exif", "another moment"])
def test_a_photo_sent_again_in_other_bytes_has_a_near_fingerprint(tmp_path, make, is_copy):
    first, second = tmp_path / "first.jpg", tmp_path / "second"
    first.write_bytes(make_jpeg())
    second.write_bytes(make())

    assert media.probe_image(first).fingerprint.is_copy_of(media.probe_image(second).fingerprint) is is_copy


def test_a_second_run_of_png_data_after_another_chunk_is_refused(tmp_path):
    """FFmpeg would inflate it too, past the bound kept on the first run."""
    png = make_png()
    end = png.index(b"IEND") - 4
    photo = tmp_path / "photo.png"
    photo.write_bytes(png[:end] + png_chunk(b"tEXt", b"a\0b") + png_chunk(b"IDAT", make_png_inflating_past(extra_mb=50)[41:-16])
                      + png[end:])

    with Cost() as cost, pytest.raises(media.MediaRejected) as refused:
        media.probe_image(photo)

    assert refused.value.code == "unreadable" and cost.cpu_seconds < 0.1


def test_a_jpeg_frame_header_cut_short_is_unreadable(tmp_path):
    jpeg = make_jpeg()
    start = jpeg.index(b"\xff\xc0")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg[:start] + b"\xff\xc0\x00\x0b\x08\x02\x80\x01\xe0\x03\x01" + jpeg[start + 19:])  # 3 components, 0 described

    with pytest.raises(media.MediaRejected) as refused:
        media.probe_image(photo)

    assert refused.value.code == "unreadable"
