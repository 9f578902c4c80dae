"""Videos people upload: what they are (probed from their content, in one
pass over every stream) and whether a vendor can use them."""

import math
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy
from django.utils.translation import gettext_lazy as _

from .formats import VIDEO_FORMATS, MediaRejected

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
AUDIO_RATE = 48000  # the sound the vendors get (and the loudness measure's default)


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
