"""Uploaded videos and photos: what they are (judged from their content, never
their name or declared type), whether a vendor can use them, what decoding
them will cost (refused before it is spent when too much), their
fingerprint (to know a recording sent again), and the one normalised form
the vendors get: MP4 with H.264 + AAC, moov atom first; a JPEG for photos.
What a file is also names it in storage and types it when staff open it
(STORED_FORMATS).

PyAV carries its own FFmpeg (with libx264 and aac), so no system ffmpeg is
needed."""

import logging
import math
import os
import re
import threading
import uuid
import zlib
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path, PurePosixPath

import av
import numpy
from av.video.frame import PictureType
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

MIN_SECONDS, MAX_SECONDS = 2.0, 10.0
# Past the limit by this much, reading stops: the file will be refused.
READ_PAST_LIMIT_SECONDS = 1.0
MIN_SHORT_SIDE, MIN_LONG_SIDE = 270, 480
MAX_LONG_SIDE = 960  # larger frames are scaled down: vendors gain nothing from them
# Phones record at most 4K (3840×2160). A larger frame is refused from its
# header, before one is decoded: a forged 30000×30000 frame would take
# gigabytes to decode.
MAX_INPUT_SIDE = 4096
# Phones' slow motion records 240 frames a second; more frames than that
# over the longest accepted video would only cost transcoding time.
MAX_VIDEO_FRAMES = int((MAX_SECONDS + READ_PAST_LIMIT_SECONDS) * 240)
# Packets of every stream read before refusing the file: AAC and Opus send
# some 50 a second, video up to 240, a phone's data tracks a few.
MAX_PACKETS = 20 * MAX_VIDEO_FRAMES
QUIET_DBFS = -45.0  # speech at arm's length is around -30 to -20 dBFS
AUDIO_RATE = 48000
AUDIO_BITRATE = 64_000
# Transcodes one process runs at once (see _transcode).
_TRANSCODE_SLOTS = threading.BoundedSemaphore(os.cpu_count() or 1)


@dataclass(frozen=True)
class StoredFormat:
    extension: str
    content_type: str


# Every format the portal keeps, by the name the probes give it (a video's
# container, an image's format): the one place that says what a stored file
# is called and the exact type it is served as. The client's file name and
# declared type are never used: an upload named `x.html` that is an MP4 is
# stored and served as an MP4, and markup is no format here at all.
STORED_FORMATS = {
    "mp4": StoredFormat("mp4", "video/mp4"),
    "mov": StoredFormat("mov", "video/quicktime"),
    "3gp": StoredFormat("3gp", "video/3gpp"),
    "webm": StoredFormat("webm", "video/webm"),
    "matroska": StoredFormat("mkv", "video/x-matroska"),
    "jpeg": StoredFormat("jpg", "image/jpeg"),
    "png": StoredFormat("png", "image/png"),
}
IMAGE_FORMATS = frozenset({"jpeg", "png"})
VIDEO_FORMATS = frozenset(STORED_FORMATS) - IMAGE_FORMATS


def stored_name(format_name: str) -> str:
    """A new random storage name for a file of `format_name` (a key of
    STORED_FORMATS): nothing in it comes from the person or guesses well."""
    return f"{uuid.uuid4().hex}.{STORED_FORMATS[format_name].extension}"


def stored_format(name: str) -> StoredFormat | None:
    """What a stored file is served as, read back from the extension
    stored_name gave it; None for a name the table never makes (an older
    version kept the client's extension, `.html` say)."""
    extension = PurePosixPath(name).suffix[1:]
    return next((known for known in STORED_FORMATS.values() if known.extension == extension), None)


class MediaRejected(Exception):
    """A file no vendor should see; `message` tells the person what to do."""

    def __init__(self, code: str, message):
        super().__init__(code)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class VideoFacts:
    container: str
    video_codec: str
    audio_codec: str | None
    width: int  # as displayed, rotation applied
    height: int
    duration: float  # of the picture
    rotation: int = 0  # degrees clockwise that turn the picture upright
    speech_dbfs: float | None = None  # the audio's loudness, when it was measured
    # From the first to the last moment of any stream: a short picture with an
    # hour of sound is an hour long. None in facts stored before it was kept.
    file_duration: float | None = None
    frames: int | None = None  # video packets

    def as_dict(self) -> dict:
        facts = {
            "container": self.container, "video_codec": self.video_codec, "audio_codec": self.audio_codec,
            "width": self.width, "height": self.height, "duration": round(self.duration, 3),
            "rotation": self.rotation,
        }
        if self.speech_dbfs is not None:
            facts["speech_dbfs"] = round(self.speech_dbfs, 1)
        if self.file_duration is not None:
            facts["file_duration"] = round(self.file_duration, 3)
        if self.frames is not None:
            facts["frames"] = self.frames
        return facts

    @property
    def longest(self) -> float:
        return max(self.duration, self.file_duration or 0.0)


def probe_video(path, *, measure_speech: bool = False) -> VideoFacts:
    """What the file at `path` is, and with `measure_speech` how loud its
    sound is. Raises MediaRejected for anything that is not a decodable video
    of one picture and at most one sound track."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            video = next((s for s in container.streams if s.type == "video"), None)
            still = container.format.name in ("image2", "gif") or container.format.name.endswith("_pipe")
            # No codec context: a stream this FFmpeg cannot decode (an SVG's, say).
            if video is None or video.codec_context is None or video.codec_context.width == 0 or still:
                raise MediaRejected("not_a_video", _("This file holds no video. Please record a video."))
            if max(video.codec_context.width, video.codec_context.height) > MAX_INPUT_SIDE:
                raise MediaRejected("frame_too_large", _("This video's picture is too large. Record it with your phone's camera."))
            _refuse_extra_streams(container)
            audio = next((s for s in container.streams if s.type == "audio"), None)
            reading = _read_packets(container, video, audio if measure_speech else None)
    except av.FFmpegError:
        raise MediaRejected("unreadable", _("This file is not a video we can read. Please record a video.")) from None
    if reading.first_frame is None or reading.packets > MAX_PACKETS or reading.frames > MAX_VIDEO_FRAMES:
        raise MediaRejected("unreadable", _("This video cannot be read. Please record it again."))
    rotation = int(-(reading.first_frame.rotation or 0)) % 360  # FFmpeg gives it counter-clockwise
    width, height = video.codec_context.width, video.codec_context.height
    if rotation in (90, 270):
        width, height = height, width
    return VideoFacts(
        container=_container_format(container.format.name, path),
        video_codec=video.codec_context.name,
        audio_codec=audio.codec_context.name if audio else None,
        width=width,
        height=height,
        duration=reading.duration,
        rotation=rotation,
        speech_dbfs=reading.speech_dbfs,
        file_duration=reading.file_duration,
        frames=reading.frames,
    )


# ISO base media brands that are not plain MP4 (ftyp's major brand).
QUICKTIME_BRANDS = frozenset({b"qt  "})
THREE_GP_BRANDS = frozenset({b"3gp4", b"3gp5", b"3gp6", b"3gp7", b"3ge6", b"3ge7", b"3gg6"})
EBML_DOCTYPE = b"\x42\x82"


def _container_format(demuxer: str, path) -> str:
    """Which format a file is, from its own header: FFmpeg's demuxer reads
    MP4, QuickTime and 3GP alike (and WebM and Matroska alike), so the ftyp
    brand and the EBML DocType tell them apart. Other demuxers give their
    own name, which STORED_FORMATS does not know."""
    with open(path, "rb") as file:
        head = file.read(64)
    if demuxer.startswith("mov,mp4"):
        if head[4:8] != b"ftyp":
            return "mov"  # QuickTime before ftyp existed
        brand = head[8:12]
        if brand in QUICKTIME_BRANDS:
            return "mov"
        if brand in THREE_GP_BRANDS:
            return "3gp"
        if brand.startswith((b"3g", b"mj")):  # 3GPP2, Motion JPEG 2000: none of ours
            return demuxer
        return "mp4"
    if demuxer == "matroska,webm":
        at = head.find(EBML_DOCTYPE)
        # The DocType's size is a one-byte EBML number (0x80 | length) in
        # every writer we know; anything else is not guessed at.
        if at < 0 or at + 3 > len(head) or not head[at + 2] & 0x80:
            return demuxer
        length = head[at + 2] & 0x7F
        doctype = head[at + 3:at + 3 + length]
        return {b"webm": "webm", b"matroska": "matroska"}.get(doctype, demuxer)
    return demuxer


def _refuse_extra_streams(container) -> None:
    """One picture and at most one sound track: the vendor gets those two,
    and the reviewer must see and hear the same. Phones add data tracks
    (timecode, location, motion), which are read for their length and left
    behind; no camera adds a second picture or sound, subtitles or
    attached files."""
    kinds = [stream.type for stream in container.streams]
    if kinds.count("video") > 1 or kinds.count("audio") > 1 or set(kinds) - {"video", "audio", "data"}:
        raise MediaRejected(
            "extra_streams", _("This file holds more than one picture and one sound. Record a video with your phone.")
        )


@dataclass
class _Reading:
    first_frame: object = None
    duration: float = 0.0
    file_duration: float = 0.0
    speech_dbfs: float | None = None
    frames: int = 0
    packets: int = 0


def _read_packets(container, video, audio) -> _Reading:
    """One pass over every stream's packets: the first video frame (its
    rotation), the picture's duration — first to last video packet, as
    MediaRecorder's WebM carries none in its header — the file's, from the
    first to the last moment of any stream, and, given `audio`, the loudness
    in dBFS. Reading stops as soon as any stream runs past MAX_SECONDS or the
    packets past their limit: the file will be refused."""
    reading = _Reading()
    first_pts, last_pts = None, None
    too_long = int(Fraction(MAX_SECONDS + READ_PAST_LIMIT_SECONDS) / video.time_base)  # in the stream's own ticks
    bases = {stream.index: float(stream.time_base or 0) for stream in container.streams}
    file_start, file_end = math.inf, -math.inf
    loudness = _Loudness(audio.codec_context.sample_rate) if audio else None
    for packet in container.demux():
        reading.packets += 1
        if reading.packets > MAX_PACKETS or reading.frames > MAX_VIDEO_FRAMES:
            break
        index = packet.stream.index
        moment = packet.pts if packet.pts is not None else packet.dts
        if moment is not None:
            file_start = min(file_start, moment * bases[index])
            file_end = max(file_end, (moment + (packet.duration or 0)) * bases[index])
        if index != video.index:
            if audio is not None and index == audio.index:
                for frame in packet.decode():
                    loudness.add(frame)
        else:
            if packet.size:
                reading.frames += 1
            if reading.first_frame is None:
                # Decoded until the first frame comes out (B-frames delay it); the
                # empty packet at the end flushes the decoder.
                reading.first_frame = next(iter(packet.decode()), None)
            if packet.pts is not None:
                end = packet.pts + (packet.duration or 0)
                first_pts = packet.pts if first_pts is None else min(first_pts, packet.pts)
                last_pts = end if last_pts is None else max(last_pts, end)
        past_limit = (last_pts is not None and last_pts - first_pts > too_long) \
            or file_end - file_start > MAX_SECONDS + READ_PAST_LIMIT_SECONDS
        if past_limit and reading.first_frame is not None:
            break
    reading.duration = float((last_pts - first_pts) * video.time_base) if first_pts is not None else 0.0
    reading.file_duration = max(file_end - file_start, 0.0) if file_end > -math.inf else 0.0
    reading.speech_dbfs = loudness.dbfs() if loudness else None
    return reading


class _Loudness:
    """Mean square of the samples, over one-second blocks: Opus and AAC
    decode into some 300 small frames, and the arithmetic per block is a
    few array operations."""

    def __init__(self, rate: int):
        self.rate = rate or AUDIO_RATE
        self.fifo = av.AudioFifo()
        self.sum_squares, self.samples = 0.0, 0

    def add(self, frame) -> None:
        frame.pts = None  # the FIFO checks timestamps for gaps; loudness does not care
        self.fifo.write(frame)
        while self.fifo.samples >= self.rate:
            self._add_block(self.fifo.read(self.rate))

    def dbfs(self) -> float:
        if self.fifo.samples:
            self._add_block(self.fifo.read())
        if not self.samples or self.sum_squares <= 0:
            return -120.0
        return 10 * math.log10(self.sum_squares / self.samples)

    def _add_block(self, frame) -> None:
        values = frame.to_ndarray()
        if values.dtype.kind in "iu":  # integer samples: scale to [-1, 1]
            values = values / float(numpy.iinfo(values.dtype).max)
        self.sum_squares += float(numpy.square(values, dtype=numpy.float64).sum())
        self.samples += values.size


def check_video(facts: VideoFacts, *, needs_speech: bool) -> None:
    """Refuses, with a message saying what to fix, what a vendor would refuse
    and what the portal would not know how to keep."""
    if facts.container not in VIDEO_FORMATS:
        raise MediaRejected(
            "unsupported_format", _("This video format is not accepted. Record the video with your phone's camera.")
        )
    if facts.duration < MIN_SECONDS:
        raise MediaRejected(
            "too_short", _("The video is too short. Record for about 6 seconds.")
        )
    if facts.longest > MAX_SECONDS:
        raise MediaRejected("too_long", _("The video is too long. Record for about 6 seconds (at most 10)."))
    if min(facts.width, facts.height) < MIN_SHORT_SIDE or max(facts.width, facts.height) < MIN_LONG_SIDE:
        raise MediaRejected(
            "too_small", _("The video resolution is too low. Use your phone's front camera at a normal quality.")
        )
    if needs_speech and not facts.audio_codec:
        raise MediaRejected(
            "no_audio", _("The video has no sound. Allow the microphone and read the numbers aloud.")
        )
    if needs_speech and facts.speech_dbfs is None:
        raise ValueError("the speech level was not measured: probe_video(measure_speech=True)")
    if needs_speech and facts.speech_dbfs < QUIET_DBFS:
        raise MediaRejected("too_quiet", _("We could not hear you. Read the numbers aloud, clearly, in a quiet place."))


@dataclass(frozen=True)
class Normalised:
    facts: VideoFacts
    size: int
    remuxed: bool = False  # packets copied, nothing re-encoded
    fingerprint: "Fingerprint | None" = None


class _Budget:
    """What normalising may read of a file: no more than the checks measured
    (a file that fooled them is refused, not transcoded for minutes)."""

    def __init__(self, facts: VideoFacts):
        self.seconds = min(facts.longest, MAX_SECONDS) + READ_PAST_LIMIT_SECONDS
        self.frames = min(facts.frames or MAX_VIDEO_FRAMES, MAX_VIDEO_FRAMES) + 2
        self.audio_seconds = 0.0

    def video_frame(self, number: int, seconds: float | None) -> None:
        if number > self.frames or (seconds is not None and seconds > self.seconds):
            raise self._refusal()

    def audio_frame(self, frame) -> None:
        self.audio_seconds += frame.samples / (frame.sample_rate or AUDIO_RATE)
        if self.audio_seconds > self.seconds:
            raise self._refusal()

    @staticmethod
    def _refusal():
        return MediaRejected("too_long", _("The video is too long. Record for about 6 seconds (at most 10)."))


def normalise_video(src, dst, *, facts: VideoFacts, max_bytes: int) -> Normalised:
    """Makes `src` an MP4 (H.264 + AAC, faststart) at `dst` that fits in
    `max_bytes`, upright whatever the phone's rotation flag said, and
    fingerprints it.

    What iPhones and Android Chrome record is H.264 + AAC already: when it
    is also upright, 8-bit 4:2:0, no larger than MAX_LONG_SIDE and within
    `max_bytes`, its packets are copied into a new file (milliseconds, and
    no second generation of compression). Anything else is transcoded.
    Neither reads more of the file than the checks measured."""
    if _is_vendor_ready(src, facts, max_bytes):
        return _remux(src, dst, facts=facts, max_bytes=max_bytes)
    return _transcode(src, dst, facts=facts, max_bytes=max_bytes)


def _is_vendor_ready(src, facts: VideoFacts, max_bytes: int) -> bool:
    if facts.video_codec != "h264" or facts.audio_codec not in ("aac", None) or facts.rotation:
        return False
    if max(facts.width, facts.height) > MAX_LONG_SIDE or os.path.getsize(src) > max_bytes:
        return False
    try:
        with av.open(str(src), metadata_errors="ignore") as source:
            return source.streams.video[0].codec_context.pix_fmt in ("yuv420p", "yuvj420p")
    except (av.FFmpegError, IndexError):
        return False


def _remux(src, dst, *, facts: VideoFacts, max_bytes: int) -> Normalised:
    budget = _Budget(facts)
    try:
        with av.open(str(src), metadata_errors="ignore") as source, av.open(
            str(dst), "w", format="mp4", options={"movflags": "+faststart"}
        ) as target:
            # Only the picture and the sound: other tracks (a phone's location
            # or timecode) and the file's metadata stay behind.
            wanted = [source.streams.video[0], *source.streams.audio[:1]]
            copies = {stream.index: target.add_stream_from_template(stream) for stream in wanted}
            starts = {stream.index: stream.start_time or 0 for stream in wanted}
            frames = 0
            for packet in source.demux(*wanted):
                if packet.dts is None:  # the demuxer's end-of-stream marker
                    continue
                moment = packet.pts if packet.pts is not None else packet.dts
                seconds = float((moment - starts[packet.stream.index]) * packet.time_base)
                if packet.stream.type == "video":
                    frames += 1
                budget.video_frame(frames, seconds)
                packet.stream = copies[packet.stream.index]
                target.mux(packet)
    except av.FFmpegError as error:
        logger.info("remux failed: %s", type(error).__name__)
        return _transcode(src, dst, facts=facts, max_bytes=max_bytes)
    size = os.path.getsize(dst)
    if size > max_bytes:
        return _transcode(src, dst, facts=facts, max_bytes=max_bytes)
    fingerprint = fingerprint_video(dst, duration=facts.duration)
    return Normalised(facts=replace(facts, container="mp4"), size=size, remuxed=True, fingerprint=fingerprint)


def _transcode(src, dst, *, facts: VideoFacts, max_bytes: int) -> Normalised:
    # A worker with many threads waits on many vendor calls at once, which
    # costs nothing; transcoding is CPU, and more at once than there are
    # cores only makes each slower, until the vendor calls queued behind them
    # run past their timeout.
    with _TRANSCODE_SLOTS:
        return _encode_h264_aac(src, dst, facts=facts, max_bytes=max_bytes)


def _encode_h264_aac(src, dst, *, facts: VideoFacts, max_bytes: int) -> Normalised:
    width, height = _output_size(facts)
    audio_budget = AUDIO_BITRATE if facts.audio_codec else 0
    # A rate cap that keeps the file under max_bytes with 10 % for the container.
    max_video_rate = int(max_bytes * 8 * 0.9 / max(facts.duration, MIN_SECONDS)) - audio_budget
    budget = _Budget(facts)
    sampler = _FrameSampler(facts.duration)  # the fingerprint, from frames decoded anyway
    try:
        with av.open(str(src), metadata_errors="ignore") as source, av.open(
            str(dst), "w", format="mp4", options={"movflags": "+faststart"}
        ) as target:
            in_video = next(s for s in source.streams if s.type == "video")
            in_video.thread_type = "AUTO"
            in_audio = next((s for s in source.streams if s.type == "audio"), None)
            out_video = target.add_stream("libx264", rate=30)
            out_video.width, out_video.height = width, height
            out_video.pix_fmt = "yuv420p"
            out_video.codec_context.time_base = Fraction(1, 1000)
            out_video.thread_type = "AUTO"
            out_video.options = {
                "preset": "veryfast",
                "crf": "26",
                "maxrate": str(max(max_video_rate, 200_000)),
                "bufsize": str(max(max_video_rate, 200_000) * 2),
            }
            out_audio = resampler = None
            if in_audio is not None:
                out_audio = target.add_stream("aac", rate=AUDIO_RATE, layout="mono")
                out_audio.bit_rate = AUDIO_BITRATE
                resampler = av.AudioResampler(format="fltp", layout="mono", rate=AUDIO_RATE)
            graph = _upright_graph({"template": in_video}, facts.rotation, width, height)
            streams = [in_video] + ([in_audio] if in_audio is not None else [])
            first_pts, frames = None, 0
            for frame in source.decode(*streams):
                if isinstance(frame, av.VideoFrame):
                    frames += 1
                    budget.video_frame(frames, None if frame.time is None or first_pts is None
                                       else frame.time - first_pts)
                    if frame.time is None:
                        continue
                    first_pts = frame.time if first_pts is None else first_pts
                    graph.push(frame)
                    for out in _pull(graph):
                        out.pts = round((frame.time - first_pts) * 1000)
                        out.time_base = Fraction(1, 1000)
                        sampler.offer(out, frame.time - first_pts)
                        # Decoded frames keep their old I/P/B type; libx264 would
                        # honour it and lose its own B-frame choices (13 % larger).
                        out.pict_type = PictureType.NONE
                        target.mux(out_video.encode(out))
                else:
                    budget.audio_frame(frame)
                    for chunk in resampler.resample(frame):
                        chunk.pts = None
                        target.mux(out_audio.encode(chunk))
            graph.push(None)
            for out in _pull(graph):
                out.pict_type = PictureType.NONE
                target.mux(out_video.encode(out))
            target.mux(out_video.encode(None))
            if out_audio is not None:
                for chunk in resampler.resample(None):
                    target.mux(out_audio.encode(chunk))
                target.mux(out_audio.encode(None))
    except (av.FFmpegError, StopIteration, ValueError) as error:
        logger.info("transcode failed: %s", type(error).__name__)
        raise MediaRejected("unreadable", _("This video cannot be read. Please record it again.")) from None

    size = os.path.getsize(dst)
    if size > max_bytes:
        raise MediaRejected("too_large", _("The video is too large. Record for about 6 seconds."))
    out_facts = VideoFacts(
        container="mp4", video_codec="h264", audio_codec="aac" if facts.audio_codec else None,
        width=width, height=height, duration=facts.duration,
    )
    return Normalised(facts=out_facts, size=size, fingerprint=sampler.fingerprint())


def _output_size(facts: VideoFacts) -> tuple[int, int]:
    scale = min(1.0, MAX_LONG_SIDE / max(facts.width, facts.height))
    # H.264 with 4:2:0 chroma wants even sides.
    return (int(facts.width * scale) // 2 * 2, int(facts.height * scale) // 2 * 2)


def _upright_graph(source: dict, rotation: int, width: int, height: int, pix_fmt: str = "yuv420p"):
    """A filter graph from a buffer described by `source` (a stream as
    template, or width, height, format and time base) that turns the picture
    upright (`rotation` degrees clockwise) and scales it to width×height."""
    graph = av.filter.Graph()
    chain = [graph.add_buffer(**source)]
    if rotation == 90:
        chain.append(graph.add("transpose", "clock"))
    elif rotation == 270:
        chain.append(graph.add("transpose", "cclock"))
    elif rotation == 180:
        chain.append(graph.add("transpose", "clock"))
        chain.append(graph.add("transpose", "clock"))
    chain.append(graph.add("scale", f"{width}:{height}"))
    chain.append(graph.add("format", pix_fmt))
    chain.append(graph.add("buffersink"))
    graph.link_nodes(*chain).configure()
    return graph


def _pull(graph):
    while True:
        try:
            yield graph.pull()
        except (av.BlockingIOError, av.EOFError):
            return


# --- photos ---------------------------------------------------------------------

# What decoding a photo will cost is read from its header, and a photo that
# would cost too much is refused before one pixel is decoded: a 381 kB PNG
# can declare 7000×7000 pixels of 16-bit RGBA, 392 MB of frame. The limit is
# on the bytes the decoder would hold, not on pixels alone: 64 MiB is a
# 16-megapixel screenshot in RGBA, and a 48-megapixel phone JPEG (8000×6000)
# fits because JPEGs are decoded at a reduced scale (see _jpeg_header).
MAX_PHOTO_PIXELS = 50_000_000
MAX_PHOTO_DECODED_BYTES = 64 * 1024 * 1024
# A progressive JPEG has about ten scans; each scan is another pass over
# every coefficient of the picture, so thousands of scans cost minutes.
MAX_JPEG_SCANS = 64
# libpng writes 8 kB IDAT chunks: a 20 MB PNG has some 2,500 chunks.
MAX_PNG_CHUNKS = 10_000
# What the vendor gets: a JPEG, upright, its long side at most this (Tencent
# advises under 1280×720 and refuses a file over 1 MB); the EXIF block (with
# a phone's location), any trailing bytes and other chunks stay behind.
VENDOR_PHOTO_MAX_SIDE = 1280
VENDOR_PHOTO_MAX_BYTES = 1_000_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type: grey, RGB, palette, grey+alpha, RGBA
PNG_DEPTHS = {0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}
ADAM7_PASSES = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
# The start-of-frame markers FFmpeg decodes (baseline, extended, progressive
# Huffman); lossless, hierarchical and arithmetic-coded JPEGs come from no phone.
JPEG_FRAMES = {0xC0: False, 0xC1: False, 0xC2: True}  # marker → progressive
JPEG_OTHER_FRAMES = frozenset(range(0xC3, 0xD0)) - {0xC4, 0xC8, 0xCC}  # SOF3, 5–7, 9–11, 13–15
JPEG_MAX_LOWRES = 3  # FFmpeg's JPEG decoder scales by 1/2, 1/4 or 1/8 as it decodes


def _unreadable_photo():
    return MediaRejected("unreadable", _("This photo cannot be read. Please take it again."))


def _too_large_photo():
    return MediaRejected("frame_too_large", _("This photo is too large. Take it with your phone's camera."))


@dataclass(frozen=True)
class ImageFacts:
    format: str  # "jpeg" or "png"
    width: int  # as displayed, rotation applied
    height: int
    rotation: int = 0
    fingerprint: "Fingerprint | None" = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict:
        return {"format": self.format, "width": self.width, "height": self.height, "rotation": self.rotation}


@dataclass(frozen=True)
class ImageHeader:
    """What a photo's header declares, and what decoding it will cost."""

    kind: str
    width: int
    height: int
    decoded_bytes: int  # the frame and working buffers the decoder will hold
    lowres: int = 0  # JPEG: decoded at 1/2**lowres of its size


def probe_image(source) -> ImageFacts:
    """A JPEG or PNG photo (a path, or the bytes), decodable, with its size
    and its fingerprint. Anything else, or anything that would cost too much
    to decode, is refused."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    header = image_header(data)
    frame, rotation = _decode_image(data, header)
    width, height = (header.height, header.width) if rotation in (90, 270) else (header.width, header.height)
    if min(width, height) < MIN_SHORT_SIDE:
        raise MediaRejected("too_small", _("The photo resolution is too low. Use your phone's front camera."))
    return ImageFacts(format=header.kind, width=width, height=height, rotation=rotation,
                      fingerprint=Fingerprint.of_frames("photo", [_dhash(frame, rotation)]))


def image_header(data: bytes) -> ImageHeader:
    """Reads the header, refusing what is not a JPEG or PNG, what is cut short
    or malformed, and what would be too large to decode. Decodes nothing."""
    kind = image_format(data)
    if kind is None:
        raise MediaRejected("not_an_image", _("Please take a photo (JPEG or PNG)."))
    header = _jpeg_header(data) if kind == "jpeg" else _png_header(data)
    if header.width * header.height > MAX_PHOTO_PIXELS or header.decoded_bytes > MAX_PHOTO_DECODED_BYTES:
        raise _too_large_photo()
    return header


def image_format(head: bytes) -> str | None:
    """"jpeg" or "png" from an image's first bytes (its signature), or None:
    for photos people send and images vendors return alike."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(PNG_SIGNATURE):
        return "png"
    return None


def _png_header(data: bytes) -> ImageHeader:
    """IHDR's size, bit depth and colour type give the frame's bytes. The
    chunks are walked (no pixel is inflated by FFmpeg yet): an animated PNG
    is no photo, and the compressed picture must not inflate to more than
    its declared size, or a few hundred kilobytes would keep FFmpeg
    inflating zeros for seconds."""
    position, chunks, ihdr, idat_done = len(PNG_SIGNATURE), 0, None, False
    inflater, inflated, expected = zlib.decompressobj(), 0, 0
    while position + 12 <= len(data):
        length = int.from_bytes(data[position:position + 4], "big")
        kind = data[position + 4:position + 8]
        body = data[position + 8:position + 8 + length]
        position += 12 + length
        chunks += 1
        if len(body) < length or chunks > MAX_PNG_CHUNKS:
            raise _unreadable_photo()
        if ihdr is None:
            if kind != b"IHDR" or length != 13:
                raise _unreadable_photo()
            ihdr = _png_ihdr(body)
            expected = _png_filtered_bytes(*ihdr)
            if ihdr[0] * ihdr[1] > MAX_PHOTO_PIXELS or ihdr[5] > MAX_PHOTO_DECODED_BYTES:
                raise _too_large_photo()
        elif kind == b"acTL":
            raise MediaRejected("animated", _("An animated picture is not a photo. Please take a photo."))
        elif kind == b"IDAT":
            if idat_done:  # IDAT chunks are consecutive; FFmpeg would inflate a second run unbounded
                raise _unreadable_photo()
            inflated += _inflate_at_most(inflater, body, expected - inflated)
        elif kind == b"IEND":
            break
        elif inflated:
            idat_done = True
    if ihdr is None or not inflated:
        raise _unreadable_photo()
    width, height = ihdr[:2]
    return ImageHeader(kind="png", width=width, height=height, decoded_bytes=ihdr[5])


def _png_ihdr(body: bytes) -> tuple[int, int, int, int, int, int]:
    """(width, height, bit depth, colour type, interlace, frame bytes)."""
    width, height = int.from_bytes(body[0:4], "big"), int.from_bytes(body[4:8], "big")
    depth, colour, interlace = body[8], body[9], body[12]
    if not width or not height or depth not in PNG_DEPTHS.get(colour, ()) or interlace not in (0, 1):
        raise _unreadable_photo()
    # FFmpeg holds a palette picture as one byte a pixel, grey of 1–4 bits as at most one.
    frame_bytes = width * height * PNG_CHANNELS[colour] * (2 if depth == 16 else 1)
    return width, height, depth, colour, interlace, frame_bytes


def _png_filtered_bytes(width, height, depth, colour, interlace, _frame_bytes) -> int:
    """The inflated size of the picture data: each row, of each Adam7 pass
    when interlaced, with its filter byte."""
    bits = PNG_CHANNELS[colour] * depth
    passes = ADAM7_PASSES if interlace else ((0, 0, 1, 1),)
    total = 0
    for x0, y0, dx, dy in passes:
        columns, rows = -(-(width - x0) // dx), -(-(height - y0) // dy)
        if columns > 0 and rows > 0:
            total += rows * (1 + -(-columns * bits // 8))
    return total


def _inflate_at_most(inflater, compressed: bytes, room: int) -> int:
    """Inflates `compressed`, a megabyte at a time, and raises once more
    comes out than `room`: a decompression bomb stops at its first excess
    byte. Returns how many bytes came out."""
    produced = 0
    pending = compressed
    while pending and not inflater.eof:
        try:
            out = inflater.decompress(pending, min(room - produced + 1, 1024 * 1024))
        except zlib.error:
            raise _unreadable_photo() from None
        produced += len(out)
        if produced > room:
            raise _too_large_photo()
        pending = inflater.unconsumed_tail
    return produced


def _jpeg_header(data: bytes) -> ImageHeader:
    """The start-of-frame segment gives the size, the precision and each
    component's sampling: the planes FFmpeg will hold. The picture is
    decoded at the smallest of 1, 1/2, 1/4 or 1/8 of its size that still
    gives the vendor's photo its full size; a progressive JPEG also holds
    every coefficient of the full picture (two bytes each) until its last
    scan. Every marker of the file is walked: a second frame header (which
    FFmpeg would decode at its own size) or more than MAX_JPEG_SCANS scans
    are refused."""
    frame, scans = None, 0
    for marker, segment in _jpeg_segments(data):
        if marker in JPEG_OTHER_FRAMES or (marker in JPEG_FRAMES and frame is not None):
            raise _unreadable_photo()
        if marker in JPEG_FRAMES:
            frame = _jpeg_frame(segment, progressive=JPEG_FRAMES[marker])
        elif marker == 0xDA:
            scans += 1
            if frame is None:
                raise _unreadable_photo()
            if scans > MAX_JPEG_SCANS:
                raise _too_large_photo()
        elif marker == 0xD9:
            break
    if frame is None or not scans:
        raise _unreadable_photo()
    return frame


# A marker in or after entropy-coded data: 0xFF followed by neither a
# stuffed 0x00, a restart marker (D0–D7) nor a fill byte.
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _jpeg_segments(data: bytes):
    """(marker, segment) for each marker after SOI, the segment empty for
    markers without one; the entropy-coded data after a scan is skipped by
    a search (in C), not walked byte by byte."""
    position = 2
    while (found := _JPEG_MARKER.search(data, position)) is not None:
        marker = data[found.start() + 1]
        if marker == 0x01 or marker in (0xD8, 0xD9):
            position = found.end()
            yield marker, b""
            continue
        length = int.from_bytes(data[found.end():found.end() + 2], "big")
        if length < 2 or found.end() + length > len(data):
            raise _unreadable_photo()
        position = found.end() + length
        yield marker, data[found.end() + 2:position]


def _jpeg_frame(segment: bytes, *, progressive: bool) -> ImageHeader:
    if len(segment) < 6 or len(segment) < 6 + 3 * segment[5]:
        raise _unreadable_photo()
    precision, height, width, count = segment[0], int.from_bytes(segment[1:3], "big"), \
        int.from_bytes(segment[3:5], "big"), segment[5]
    components = [(segment[7 + 3 * n] >> 4, segment[7 + 3 * n] & 15) for n in range(count)]
    if not width or not height or not count or precision not in (8, 12) or any(not h or not v for h, v in components):
        raise _unreadable_photo()
    if width * height > MAX_PHOTO_PIXELS:
        raise _too_large_photo()
    lowres = 0
    while lowres < JPEG_MAX_LOWRES and max(width, height) >> (lowres + 1) >= VENDOR_PHOTO_MAX_SIDE:
        lowres += 1
    most_h, most_v = max(h for h, _ in components), max(v for _, v in components)
    sample_bytes = 2 if precision > 8 else 1
    planes = [(-(-width * h // most_h), -(-height * v // most_v)) for h, v in components]
    frame = sum(-(-w >> lowres) * -(-h >> lowres) for w, h in planes) * sample_bytes
    coefficients = sum(-(-w // 8) * -(-h // 8) * 64 * 2 for w, h in planes) if progressive else 0
    return ImageHeader(kind="jpeg", width=width, height=height, decoded_bytes=frame + coefficients, lowres=lowres)


def _decode_image(data: bytes, header: ImageHeader):
    """The picture as one frame (a JPEG at its reduced scale) and the
    rotation its EXIF orientation asks for, in degrees clockwise. The
    decoder is named, not guessed from a file name."""
    context = av.CodecContext.create("mjpeg" if header.kind == "jpeg" else "png", "r")
    if header.lowres:
        context.options = {"lowres": str(header.lowres)}
    try:
        frames = context.decode(av.Packet(data)) + context.decode(None)
    except av.FFmpegError:
        raise _unreadable_photo() from None
    if not frames:
        raise _unreadable_photo()
    frame = frames[0]
    if (frame.width, frame.height) != (-(-header.width >> header.lowres), -(-header.height >> header.lowres)):
        raise _unreadable_photo()  # the header lied about the size
    # FFmpeg gives the display matrix's counter-clockwise angle.
    return frame, int(-(frame.rotation or 0)) % 360


def normalise_photo(data: bytes) -> bytes:
    """The photo as the vendor gets it: a JPEG, upright, its long side at
    most VENDOR_PHOTO_MAX_SIDE, under VENDOR_PHOTO_MAX_BYTES. `data` has
    passed probe_image (or is refused here the same way)."""
    header = image_header(data)
    frame, rotation = _decode_image(data, header)
    width, height = (frame.height, frame.width) if rotation in (90, 270) else (frame.width, frame.height)
    scale = min(1.0, VENDOR_PHOTO_MAX_SIDE / max(width, height))
    size = (max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2))
    upright = next(_pull(_picture_graph(frame, rotation, size, "yuvj420p")))
    for quality in (3, 5, 8, 12):  # FFmpeg's qscale: lower is better
        encoder = av.CodecContext.create("mjpeg", "w")
        encoder.width, encoder.height, encoder.pix_fmt = size[0], size[1], "yuvj420p"
        encoder.time_base = Fraction(1, 25)
        encoder.color_range = 2  # full range, as JPEG files hold
        encoder.options = {"qmin": str(quality), "qmax": str(quality)}
        upright.pts = 0
        jpeg = b"".join(bytes(p) for p in encoder.encode(upright) + encoder.encode(None))
        if len(jpeg) <= VENDOR_PHOTO_MAX_BYTES:
            return jpeg
    raise MediaRejected("too_large", _("This photo is too large. Take it with your phone's camera."))


def _picture_graph(frame, rotation: int, size: tuple[int, int], pix_fmt: str):
    """One picture through the same upright-and-scale graph as a video's
    frames, pulled out at `size` in `pix_fmt`."""
    graph = _upright_graph(
        {"width": frame.width, "height": frame.height, "format": frame.format.name, "time_base": Fraction(1, 25)},
        rotation, *size, pix_fmt,
    )
    frame.pts = 0
    graph.push(frame)
    graph.push(None)
    return graph


# --- fingerprints ------------------------------------------------------------------
# The same recording sent again — with bytes appended, in another container,
# re-encoded smaller — has another SHA-256 but the same pictures. A difference
# hash (dHash) of a picture shrunk to 9×8 grey says, for each pair of
# neighbours, whether the right one is brighter: it survives re-encoding and
# rescaling, and two recordings differ in it wherever a face or a shoulder
# sits elsewhere. A video's fingerprint is the dHash of its frames at fixed
# fractions of its duration, so copies of any length compare frame by frame.

FINGERPRINT_FRACTIONS = (0.2, 0.4, 0.6, 0.8)
# Neighbours closer than this (grey levels of 255) count as equal: a flat wall
# would otherwise give bits that compression noise flips at random.
DHASH_MARGIN = 2
DHASH_SIZE = 8  # 8 rows of 8 comparisons: 64 bits
BAND_BITS = 16  # a fingerprint is looked up by its 16-bit bands (see Fingerprint.band_keys)


@dataclass(frozen=True)
class Fingerprint:
    kind: str  # "video" or "photo": they are never compared with each other
    hashes: tuple[int, ...]  # one 64-bit dHash a frame

    @classmethod
    def of_frames(cls, kind: str, hashes) -> "Fingerprint":
        return cls(kind, tuple(hashes))

    @classmethod
    def from_text(cls, text: str) -> "Fingerprint | None":
        kind, _, digits = text.partition(":")
        if kind not in ("video", "photo") or not digits or len(digits) % 16:
            return None
        return cls(kind, tuple(int(digits[n:n + 16], 16) for n in range(0, len(digits), 16)))

    def as_text(self) -> str:
        return f"{self.kind}:" + "".join(f"{value:016x}" for value in self.hashes)

    @property
    def max_distance(self) -> int:
        """Bits in which a copy may differ: one fewer than the bands, so that
        a copy always shares at least one band exactly with its original
        (a difference of that many bits cannot touch every band). Measured:
        re-encodes differ by 0–12 of a video's 256 bits, another take of the
        same scene by 25 or more (tests/test_media.py)."""
        return len(self.hashes) * 64 // BAND_BITS - 1

    def distance(self, other: "Fingerprint") -> int | None:
        if other.kind != self.kind or len(other.hashes) != len(self.hashes):
            return None
        return sum((a ^ b).bit_count() for a, b in zip(self.hashes, other.hashes))

    def is_copy_of(self, other: "Fingerprint") -> bool:
        distance = self.distance(other)
        return distance is not None and distance <= self.max_distance

    def band_keys(self) -> list[str]:
        """Each hash cut into 16-bit bands, each named by its place: a copy of
        this picture or recording has at least one of these keys, so an
        index on them finds the candidates without comparing every row."""
        return [
            f"{self.kind[0]}{frame}{band}:{(value >> (band * BAND_BITS)) & 0xFFFF:04x}"
            for frame, value in enumerate(self.hashes) for band in range(64 // BAND_BITS)
        ]


def _dhash(frame, rotation: int = 0) -> int:
    """The 64-bit difference hash of a picture turned upright by `rotation`
    (degrees clockwise)."""
    turned = rotation in (90, 270)
    width, height = (DHASH_SIZE, DHASH_SIZE + 1) if turned else (DHASH_SIZE + 1, DHASH_SIZE)
    grey = frame.reformat(width=width, height=height, format="gray", interpolation="AREA").to_ndarray()
    grey = numpy.rot90(grey.astype(numpy.int16), k=-(rotation // 90))
    brighter = (grey[:, 1:] - grey[:, :-1]) > DHASH_MARGIN
    return int.from_bytes(numpy.packbits(brighter.flatten()).tobytes(), "big")


class _FrameSampler:
    """Hashes the frames at FINGERPRINT_FRACTIONS of `duration` from upright
    frames given in order, each with its time from the first frame."""

    def __init__(self, duration: float):
        self.targets = [duration * fraction for fraction in FINGERPRINT_FRACTIONS]
        self.hashes = []
        self.last = None

    def offer(self, frame, seconds: float) -> None:
        self.last = frame
        while len(self.hashes) < len(self.targets) and seconds >= self.targets[len(self.hashes)] - 0.001:
            self.hashes.append(_dhash(frame))

    @property
    def wants_more(self) -> bool:
        return len(self.hashes) < len(self.targets)

    def fingerprint(self) -> Fingerprint | None:
        if self.last is None:
            return None
        while self.wants_more:  # the video ended before a target: its last frame stands in
            self.hashes.append(_dhash(self.last))
        return Fingerprint.of_frames("video", self.hashes)


def fingerprint_video(path, *, duration: float) -> Fingerprint | None:
    """The fingerprint of an upright video (as normalise_video writes it):
    for each fraction, a seek to the keyframe before it and decoding up to
    it; a point less than a second on is reached by decoding on."""
    sampler = _FrameSampler(duration)
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream = container.streams.video[0]
            origin = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
            position = None  # the time of the last frame decoded
            while sampler.wants_more:
                target = sampler.targets[len(sampler.hashes)]
                if position is None or target - position > 1.0:
                    container.seek(int((target + origin) / stream.time_base), stream=stream, backward=True)
                for frame in container.decode(stream):
                    if frame.time is None:
                        continue
                    position = frame.time - origin
                    sampler.offer(frame, position)
                    if position >= target - 0.001:
                        break
                else:
                    break  # the end of the file
    except (av.FFmpegError, IndexError):
        return None
    return sampler.fingerprint()
