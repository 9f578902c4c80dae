"""The one form the vendors get: MP4 with H.264 + AAC, moov atom first,
upright, within the vendor's size limit. An H.264 picture that is already
fit is copied (its sound copied when AAC, transcoded to AAC otherwise: the
Opus desktop Chromium records beside H.264); anything else is transcoded.
Neither reads more than the checks measured."""

import logging
import os
import threading
from dataclasses import dataclass, replace
from fractions import Fraction

import av
from av.video.frame import PictureType
from django.utils.translation import gettext_lazy as _

from .fingerprint import Fingerprint, FrameSampler, fingerprint_video
from .formats import MediaRejected
from .frames import pull_frames, upright_graph
from .video import AUDIO_RATE, MAX_SECONDS, MAX_VIDEO_FRAMES, MIN_SECONDS, READ_PAST_LIMIT_SECONDS, VideoFacts

logger = logging.getLogger(__name__)

MAX_LONG_SIDE = 960  # larger frames are scaled down: vendors gain nothing from them
AUDIO_BITRATE = 64_000
# FFmpeg's AAC encoder with its fast coder: for speech at 64 kbit/s mono it
# costs 0.05 CPU-s for 6 s where the default (two-loop) costs 0.09, which
# is most of what a copied H.264 upload with Opus sound costs.
AAC_OPTIONS = {"aac_coder": "fast"}
# libx264's preset for what must be transcoded (VP9 and VP8 from Firefox,
# rotated or oversized H.264), chosen by `make bench-video`
# (docs/benchmarks.md): the fastest whose SSIM against the source is at
# least 0.97 on the clean benchmark clip. ultrafast costs about half of
# veryfast's CPU at the same SSIM on both clips (0.992 and 0.960 on the
# grainy one, where no preset reaches 0.97 at this CRF: the CRF, not the
# preset, sets it); its files are 3-4 times larger, still well within
# the vendors' limits (the rate cap below keeps them there).
X264_PRESET = "ultrafast"
# When that comes out over the vendor's limit (a size limit tighter than the
# picture needs), once more with a preset that compresses better.
X264_PRESET_TO_FIT = "veryfast"
# Transcodes one process runs at once (see _transcode).
_TRANSCODE_SLOTS = threading.BoundedSemaphore(os.cpu_count() or 1)


@dataclass(frozen=True)
class Normalised:
    facts: VideoFacts
    size: int
    remuxed: bool = False  # the picture's packets copied, not re-encoded
    audio_transcoded: bool = False  # with remuxed: the sound (Opus, say) made AAC
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

    What iPhones and Android Chrome record is H.264 + AAC already, and
    desktop Chromium records H.264 + Opus when the recorder asks for it:
    when the picture is H.264, upright, 8-bit 4:2:0, no larger than
    MAX_LONG_SIDE and the file within `max_bytes`, its packets are copied
    into a new file (milliseconds, and no second generation of
    compression), the sound with them when it is AAC, else decoded and
    encoded as AAC (a few hundredths of a second). Anything else (VP9, VP8,
    a rotation flag, a 4K frame) is transcoded. Neither reads more of the
    file than the checks measured."""
    if _is_vendor_ready(src, facts, max_bytes):
        return _remux(src, dst, facts=facts, max_bytes=max_bytes)
    return _transcode(src, dst, facts=facts, max_bytes=max_bytes)


def _is_vendor_ready(src, facts: VideoFacts, max_bytes: int) -> bool:
    """Whether the picture can be copied as it is (the sound is not asked:
    any the probe accepted becomes AAC)."""
    if facts.video_codec != "h264" or facts.rotation:
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
    audio_transcoded = False
    try:
        with av.open(str(src), metadata_errors="ignore") as source, av.open(
            str(dst), "w", format="mp4", options={"movflags": "+faststart"}
        ) as target:
            # Only the picture and the sound: other tracks (a phone's location
            # or timecode) and the file's metadata stay behind.
            wanted = [source.streams.video[0], *source.streams.audio[:1]]
            copies, sound = {}, None
            for stream in wanted:
                if stream.type == "audio" and stream.codec_context.name != "aac":
                    sound = _AacSound(target, budget)
                else:
                    copies[stream.index] = target.add_stream_from_template(stream)
            starts = {stream.index: stream.start_time or 0 for stream in wanted}
            last_dts = {}
            frames = 0
            for packet in source.demux(*wanted):
                if packet.dts is None:  # the demuxer's end-of-stream marker
                    continue
                _after(packet, last_dts)
                moment = packet.pts if packet.pts is not None else packet.dts
                seconds = float((moment - starts[packet.stream.index]) * packet.time_base)
                if packet.stream.type == "video":
                    frames += 1
                budget.video_frame(frames, seconds)
                if packet.stream.index in copies:
                    packet.stream = copies[packet.stream.index]
                    target.mux(packet)
                else:
                    sound.add(packet)
            if sound is not None:
                sound.finish()
                audio_transcoded = True
    except av.FFmpegError as error:
        logger.info("remux failed: %s", type(error).__name__)
        return _transcode(src, dst, facts=facts, max_bytes=max_bytes)
    size = os.path.getsize(dst)
    if size > max_bytes:
        return _transcode(src, dst, facts=facts, max_bytes=max_bytes)
    fingerprint = fingerprint_video(dst, duration=facts.duration)
    audio_codec = "aac" if facts.audio_codec else None
    return Normalised(
        facts=replace(facts, container="mp4", audio_codec=audio_codec), size=size, remuxed=True,
        audio_transcoded=audio_transcoded, fingerprint=fingerprint,
    )


class _AacSound:
    """The sound of a copied picture made AAC, packet by packet as the
    demuxer hands them over (mono, 48 kHz, AUDIO_BITRATE, as a transcode
    makes it); it starts where the picture starts."""

    def __init__(self, target, budget: _Budget):
        self.target, self.budget = target, budget
        self.out = target.add_stream("aac", rate=AUDIO_RATE, layout="mono", options=AAC_OPTIONS)
        self.out.bit_rate = AUDIO_BITRATE
        self.resampler = av.AudioResampler(format="fltp", layout="mono", rate=AUDIO_RATE)

    def add(self, packet) -> None:
        for frame in packet.decode():
            self.budget.audio_frame(frame)
            self._encode(self.resampler.resample(frame))

    def finish(self) -> None:
        self._encode(self.resampler.resample(None))
        self.target.mux(self.out.encode(None))

    def _encode(self, chunks) -> None:
        for chunk in chunks:
            chunk.pts = None
            self.target.mux(self.out.encode(chunk))


def _after(packet, last_dts: dict) -> None:
    """A recorder that stalled (a busy machine) can stamp a frame with the
    time of the one before; MP4 refuses a repeated time. Such a packet moves
    one tick later, which no one can see, and its picture is copied as it is."""
    last = last_dts.get(packet.stream.index)
    if last is not None and packet.dts <= last:
        shift = last + 1 - packet.dts
        packet.dts += shift
        if packet.pts is not None:
            packet.pts += shift
    last_dts[packet.stream.index] = packet.dts


def _transcode(src, dst, *, facts: VideoFacts, max_bytes: int) -> Normalised:
    # A worker with many threads waits on many vendor calls at once, which
    # costs nothing; transcoding is CPU, and more at once than there are
    # cores only makes each slower, until the vendor calls queued behind them
    # run past their timeout.
    with _TRANSCODE_SLOTS:
        try:
            return _encode_h264_aac(src, dst, facts=facts, max_bytes=max_bytes, preset=X264_PRESET)
        except MediaRejected as refused:
            if refused.code != "too_large" or X264_PRESET == X264_PRESET_TO_FIT:
                raise
        return _encode_h264_aac(src, dst, facts=facts, max_bytes=max_bytes, preset=X264_PRESET_TO_FIT)


def _encode_h264_aac(src, dst, *, facts: VideoFacts, max_bytes: int, preset: str) -> Normalised:
    width, height = _output_size(facts)
    audio_budget = AUDIO_BITRATE if facts.audio_codec else 0
    # A rate cap that keeps the file under max_bytes with 10 % for the container.
    max_video_rate = int(max_bytes * 8 * 0.9 / max(facts.duration, MIN_SECONDS)) - audio_budget
    budget = _Budget(facts)
    sampler = FrameSampler(facts.duration)  # the fingerprint, from frames decoded anyway
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
                "preset": preset,
                "crf": "26",
                "maxrate": str(max(max_video_rate, 200_000)),
                "bufsize": str(max(max_video_rate, 200_000) * 2),
            }
            out_audio = resampler = None
            if in_audio is not None:
                out_audio = target.add_stream("aac", rate=AUDIO_RATE, layout="mono", options=AAC_OPTIONS)
                out_audio.bit_rate = AUDIO_BITRATE
                resampler = av.AudioResampler(format="fltp", layout="mono", rate=AUDIO_RATE)
            graph = upright_graph({"template": in_video}, facts.rotation, width, height)
            streams = [in_video] + ([in_audio] if in_audio is not None else [])
            first_pts, last_pts, frames = None, None, 0
            for frame in source.decode(*streams):
                if isinstance(frame, av.VideoFrame):
                    frames += 1
                    budget.video_frame(frames, None if frame.time is None or first_pts is None
                                       else frame.time - first_pts)
                    if frame.time is None:
                        continue
                    first_pts = frame.time if first_pts is None else first_pts
                    pts = round((frame.time - first_pts) * 1000)
                    # A recorder that stalled (a busy phone) writes frames
                    # with the moment of the one before; the muxer refuses
                    # a repeated time, and the frame shows nothing new.
                    if last_pts is not None and pts <= last_pts:
                        continue
                    last_pts = pts
                    graph.push(frame)
                    for out in pull_frames(graph):
                        out.pts = pts
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
            for out in pull_frames(graph):
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
