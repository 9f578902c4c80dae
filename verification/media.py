"""Uploaded videos and photos: what they are (judged from their content, never
their name or declared type), whether a vendor can use them, and the one
normalised form the vendors get: MP4 with H.264 + AAC, moov atom first.
What a file is also names it in storage and types it when staff open it
(STORED_FORMATS).

PyAV carries its own FFmpeg (with libx264 and aac), so no system ffmpeg is
needed."""

import logging
import math
import os
import threading
import uuid
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import PurePosixPath

import av
import numpy
from av.video.frame import PictureType
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

MIN_SECONDS, MAX_SECONDS = 2.0, 10.0
MIN_SHORT_SIDE, MIN_LONG_SIDE = 270, 480
MAX_LONG_SIDE = 960  # larger frames are scaled down: vendors gain nothing from them
# Phones record at most 4K (3840×2160). A larger frame is refused from its
# header, before one is decoded: a forged 30000×30000 frame would take
# gigabytes to decode.
MAX_INPUT_SIDE = 4096
# Photos likewise, from the size the file declares (a 48-megapixel phone
# photo is 8000×6000); the declaration is read from this much of the file.
MAX_PHOTO_PIXELS = 50_000_000
IMAGE_HEADER_BYTES = 1024 * 1024
# JPEG start-of-frame markers, which carry the size (not DHT, JPG, DAC).
JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
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
    duration: float
    rotation: int = 0
    speech_dbfs: float | None = None  # the audio's loudness, when it was measured

    def as_dict(self) -> dict:
        facts = {
            "container": self.container, "video_codec": self.video_codec, "audio_codec": self.audio_codec,
            "width": self.width, "height": self.height, "duration": round(self.duration, 3),
            "rotation": self.rotation,
        }
        if self.speech_dbfs is not None:
            facts["speech_dbfs"] = round(self.speech_dbfs, 1)
        return facts


def probe_video(path, *, measure_speech: bool = False) -> VideoFacts:
    """What the file at `path` is, and with `measure_speech` how loud its
    sound is. Raises MediaRejected for anything that is not a decodable video."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            video = next((s for s in container.streams if s.type == "video"), None)
            still = container.format.name in ("image2", "gif") or container.format.name.endswith("_pipe")
            # No codec context: a stream this FFmpeg cannot decode (an SVG's, say).
            if video is None or video.codec_context is None or video.codec_context.width == 0 or still:
                raise MediaRejected("not_a_video", _("This file holds no video. Please record a video."))
            if max(video.codec_context.width, video.codec_context.height) > MAX_INPUT_SIDE:
                raise MediaRejected("frame_too_large", _("This video's picture is too large. Record it with your phone's camera."))
            audio = next((s for s in container.streams if s.type == "audio"), None)
            first, duration, speech_dbfs = _read_packets(container, video, audio if measure_speech else None)
    except av.FFmpegError:
        raise MediaRejected("unreadable", _("This file is not a video we can read. Please record a video.")) from None
    if first is None:
        raise MediaRejected("unreadable", _("This video cannot be read. Please record it again."))
    rotation = int(first.rotation or 0) % 360
    width, height = video.codec_context.width, video.codec_context.height
    if rotation in (90, 270):
        width, height = height, width
    return VideoFacts(
        container=_container_format(container.format.name, path),
        video_codec=video.codec_context.name,
        audio_codec=audio.codec_context.name if audio else None,
        width=width,
        height=height,
        duration=duration,
        rotation=rotation,
        speech_dbfs=speech_dbfs,
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


def _read_packets(container, video, audio):
    """One pass over the file: the first video frame (its rotation), the
    duration — first to last video packet, as MediaRecorder's WebM carries
    none in its header — and, given `audio`, the loudness in dBFS. A file
    found longer than MAX_SECONDS is not read further: it will be refused."""
    first_frame, first_pts, last_pts = None, None, None
    too_long = int(Fraction(MAX_SECONDS + 1) / video.time_base)  # in the stream's own ticks
    loudness = _Loudness(audio.codec_context.sample_rate) if audio else None
    for packet in container.demux([video, audio] if audio else [video]):
        if packet.stream.index != video.index:
            for frame in packet.decode():
                loudness.add(frame)
            continue
        if first_frame is None:
            # Decoded until the first frame comes out (B-frames delay it); the
            # empty packet at the end flushes the decoder.
            first_frame = next(iter(packet.decode()), None)
        if packet.pts is None:
            continue
        end = packet.pts + (packet.duration or 0)
        first_pts = packet.pts if first_pts is None else min(first_pts, packet.pts)
        last_pts = end if last_pts is None else max(last_pts, end)
        if last_pts - first_pts > too_long and first_frame is not None:
            break
    duration = float((last_pts - first_pts) * video.time_base) if first_pts is not None else 0.0
    return first_frame, duration, loudness.dbfs() if loudness else None


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
    if facts.duration > MAX_SECONDS:
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


def normalise_video(src, dst, *, facts: VideoFacts, max_bytes: int) -> Normalised:
    """Makes `src` an MP4 (H.264 + AAC, faststart) at `dst` that fits in
    `max_bytes`, upright whatever the phone's rotation flag said.

    What iPhones and Android Chrome record is H.264 + AAC already: when it
    is also upright, 8-bit 4:2:0, no larger than MAX_LONG_SIDE and within
    `max_bytes`, its packets are copied into a new file (milliseconds, and
    no second generation of compression). Anything else is transcoded."""
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
    try:
        with av.open(str(src), metadata_errors="ignore") as source, av.open(
            str(dst), "w", format="mp4", options={"movflags": "+faststart"}
        ) as target:
            # Only the picture and the sound: other tracks (a phone's location
            # or timecode) and the file's metadata stay behind.
            wanted = [source.streams.video[0], *source.streams.audio[:1]]
            copies = {stream.index: target.add_stream_from_template(stream) for stream in wanted}
            for packet in source.demux(*wanted):
                if packet.dts is None:  # the demuxer's end-of-stream marker
                    continue
                packet.stream = copies[packet.stream.index]
                target.mux(packet)
    except av.FFmpegError as error:
        logger.info("remux failed: %s", type(error).__name__)
        return _transcode(src, dst, facts=facts, max_bytes=max_bytes)
    size = os.path.getsize(dst)
    if size > max_bytes:
        return _transcode(src, dst, facts=facts, max_bytes=max_bytes)
    return Normalised(facts=replace(facts, container="mp4"), size=size, remuxed=True)


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
            graph = _video_graph(in_video, facts, width, height)
            streams = [in_video] + ([in_audio] if in_audio is not None else [])
            first_pts = None
            for frame in source.decode(*streams):
                if isinstance(frame, av.VideoFrame):
                    if frame.time is None:
                        continue
                    first_pts = frame.time if first_pts is None else first_pts
                    graph.push(frame)
                    for out in _pull(graph):
                        out.pts = round((frame.time - first_pts) * 1000)
                        out.time_base = Fraction(1, 1000)
                        # Decoded frames keep their old I/P/B type; libx264 would
                        # honour it and lose its own B-frame choices (13 % larger).
                        out.pict_type = PictureType.NONE
                        target.mux(out_video.encode(out))
                else:
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
    return Normalised(facts=out_facts, size=size)


def _output_size(facts: VideoFacts) -> tuple[int, int]:
    scale = min(1.0, MAX_LONG_SIDE / max(facts.width, facts.height))
    # H.264 with 4:2:0 chroma wants even sides.
    return (int(facts.width * scale) // 2 * 2, int(facts.height * scale) // 2 * 2)


def _video_graph(stream, facts: VideoFacts, width: int, height: int):
    graph = av.filter.Graph()
    source = graph.add_buffer(template=stream)
    chain = [source]
    if facts.rotation == 90:
        chain.append(graph.add("transpose", "clock"))
    elif facts.rotation == 270:
        chain.append(graph.add("transpose", "cclock"))
    elif facts.rotation == 180:
        chain.append(graph.add("transpose", "clock"))
        chain.append(graph.add("transpose", "clock"))
    chain.append(graph.add("scale", f"{width}:{height}"))
    chain.append(graph.add("format", "yuv420p"))
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


@dataclass(frozen=True)
class ImageFacts:
    format: str  # "jpeg" or "png"
    width: int
    height: int


def probe_image(path) -> ImageFacts:
    """A JPEG or PNG photo, decodable, with its size. Anything else is refused."""
    with open(path, "rb") as file:
        head = file.read(IMAGE_HEADER_BYTES)
    kind = image_format(head)
    if kind is None:
        raise MediaRejected("not_an_image", _("Please take a photo (JPEG or PNG)."))
    declared = _declared_image_size(head, kind)
    if declared is None:
        raise MediaRejected("unreadable", _("This photo cannot be read. Please take it again."))
    if declared[0] * declared[1] > MAX_PHOTO_PIXELS:
        raise MediaRejected("frame_too_large", _("This photo is too large. Take it with your phone's camera."))
    try:
        # The demuxer for the format the signature showed: image2 would pick
        # its decoder by the file's name, which the person chose.
        with av.open(str(path), format=f"{kind}_pipe") as container:
            frame = next(container.decode(video=0))
    except (av.FFmpegError, StopIteration):
        raise MediaRejected("unreadable", _("This photo cannot be read. Please take it again.")) from None
    if min(frame.width, frame.height) < MIN_SHORT_SIDE:
        raise MediaRejected("too_small", _("The photo resolution is too low. Use your phone's front camera."))
    return ImageFacts(format=kind, width=frame.width, height=frame.height)


def image_format(head: bytes) -> str | None:
    """"jpeg" or "png" from an image's first bytes (its signature), or None:
    for photos people send and images vendors return alike."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    return None


def _declared_image_size(head: bytes, kind: str) -> tuple[int, int] | None:
    """(width, height) as the PNG IHDR or the JPEG start-of-frame says, or
    None when the header is cut short or malformed."""
    if kind == "png":
        if len(head) < 24 or head[12:16] != b"IHDR":
            return None
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    position = 2
    while position + 9 <= len(head):
        if head[position] != 0xFF:
            return None
        marker = head[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            position += 2
            continue
        if marker in JPEG_SOF_MARKERS:
            height = int.from_bytes(head[position + 5:position + 7], "big")
            width = int.from_bytes(head[position + 7:position + 9], "big")
            return width, height
        position += 2 + int.from_bytes(head[position + 2:position + 4], "big")
    return None
