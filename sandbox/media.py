"""What the vendor emulators need to know about an uploaded video or photo.

Every fact comes from the content, never from a file name or a declared
Content-Type: the container from what FFmpeg's demuxers recognise (and, for
the ISO family, the `ftyp` brand), sizes from the codec, the duration from
scanning the packets (a MediaRecorder WebM has no duration in its header),
the loudness from decoding the sound.

    probe_video(bytes | path, snapshots=0) -> VideoFacts   or MediaError
    probe_image(bytes) -> ImageFacts                        or MediaError
    encode_jpeg(av.VideoFrame) -> bytes

The emulators turn the facts into vendor codes; this module decides nothing
about what a vendor accepts. It logs nothing either: the callers log codes.
"""

import io
import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from urllib.parse import urlsplit

import av
import numpy as np
import requests
from av.video.reformatter import VideoReformatter

# FFmpeg's own log stays as PyAV leaves it (off by default): a broken upload
# is an expected event here, reported through MediaError, and the level is
# process-wide, so it is not this module's to change.

# Snapshots are scaled down to at most this many pixels on the long side:
# vendors return small face crops, and a 1080p frame as base64 is ~300 kB.
SNAPSHOT_MAX_SIDE = 640
# The level meter works on 16 kHz mono floats whatever the source format.
METER_RATE = 16000

# FFmpeg's demuxer name -> the container it means. The ISO family ("mov,mp4,
# m4a,3gp,3g2,mj2") is split further by its ftyp brand, see _iso_flavour.
DEMUXER_CONTAINERS = {
    "mov,mp4,m4a,3gp,3g2,mj2": "iso",
    "flv": "flv",
    "live_flv": "flv",
    "avi": "avi",
    "matroska,webm": "matroska",
    "mpegts": "mpegts",
    "mpeg": "mpeg-ps",
    "asf": "asf",
    "ogg": "ogg",
    "gif": "gif",
}
IMAGE_DEMUXERS = {"jpeg_pipe", "png_pipe", "gif", "gif_pipe", "webp_pipe", "bmp_pipe", "image2"}


class MediaError(ValueError):
    """The bytes are not a usable video or photo.

    reason is one of: "empty", "not-media" (nothing FFmpeg recognises, or a
    picture where a video was wanted), "no-video" (a media file without a
    video stream), "corrupt" (recognised, but truncated or undecodable),
    "gif" / "unsupported-image" (for photos). detail is for people.
    """

    def __init__(self, reason, detail):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class VideoFacts:
    container: str  # "mp4", "mov", "3gp", "flv", "avi", "webm", "matroska", or FFmpeg's name
    video_codec: str  # FFmpeg's decoder name: "h264", "hevc", "vp9", "vp8", "mpeg4", ...
    width: int  # coded size; a rotation tag is not applied
    height: int
    duration: float  # seconds of video, from the first to the end of the last packet
    frame_count: int  # frames actually decoded
    has_audio: bool
    audio_codec: str | None
    audio_rms_dbfs: float | None  # whole track, mono; -inf for digital silence
    audio_peak_dbfs: float | None
    # Mean absolute change of a 32x32 grey thumbnail between consecutive
    # frames, 0-255: about 0 for a still picture turned into a video.
    motion: float
    snapshots: tuple[bytes, ...] = field(default=(), repr=False)  # JPEGs, evenly spaced

    @property
    def short_side(self):
        return min(self.width, self.height)

    @property
    def long_side(self):
        return max(self.width, self.height)


@dataclass(frozen=True)
class ImageFacts:
    format: str  # "jpeg" or "png"
    width: int
    height: int


def _open(source):
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        data = Path(source).read_bytes()
    return data


def _iso_flavour(data):
    """mp4, mov or 3gp for an ISO base media file, from its ftyp box."""
    # A QuickTime file may start without ftyp (old files begin with moov,
    # mdat, wide or free); it is MOV either way.
    if data[4:8] != b"ftyp":
        return "mov"
    brand = data[8:12]
    if brand == b"qt  ":
        return "mov"
    if brand.startswith((b"3gp", b"3g2", b"3ge", b"3gg")):
        return "3gp"
    return "mp4"


def _container_name(data, demuxer):
    kind = DEMUXER_CONTAINERS.get(demuxer, demuxer)
    if kind == "iso":
        return _iso_flavour(data)
    if kind == "matroska":
        # The DocType in the EBML header says which: MediaRecorder writes "webm".
        return "webm" if b"webm" in data[:64] else "matroska"
    return kind


def _cut_short(data, container):
    """True when the file's own framing says bytes are missing at the end.

    FFmpeg flags a packet cut in half, but a fragmented MP4 (what Chromium's
    MediaRecorder writes) cut between fragments just looks shorter; its
    top-level boxes still tell, as does an AVI's RIFF size. A live WebM has
    no such sizes (its segment size is "unknown"), so it cannot be checked.
    """
    if container in ("mp4", "mov", "3gp"):
        position = 0
        while position < len(data):
            if len(data) - position < 8:
                return True
            size = int.from_bytes(data[position : position + 4], "big")
            if size == 1:  # a 64-bit size follows the type
                if len(data) - position < 16:
                    return True
                size = int.from_bytes(data[position + 8 : position + 16], "big")
            elif size == 0:  # the box runs to the end of the file
                return False
            if size < 8 or position + size > len(data):
                return True
            position += size
        return False
    if container == "avi" and data[:4] == b"RIFF":
        return 8 + int.from_bytes(data[4:8], "little") > len(data)
    return False


def _dbfs(value):
    return 20 * math.log10(value) if value > 0 else float("-inf")


def encode_jpeg(frame, max_side=SNAPSHOT_MAX_SIDE):
    """A baseline JPEG of a video frame, scaled to at most max_side pixels."""
    width, height = frame.width, frame.height
    factor = min(1.0, max_side / max(width, height))
    # Even sizes: 4:2:0 JPEGs need them.
    width, height = max(2, int(width * factor) // 2 * 2), max(2, int(height * factor) // 2 * 2)
    picture = frame.reformat(width=width, height=height, format="yuvj420p")
    context = av.CodecContext.create("mjpeg", "w")
    context.width, context.height, context.pix_fmt = width, height, "yuvj420p"
    context.time_base = Fraction(1, 25)
    context.color_range = 2  # full range, as JPEG files are
    # A square pixel aspect makes FFmpeg write the usual JFIF header, and
    # bitexact leaves out its "Lavc" comment.
    context.sample_aspect_ratio = Fraction(1, 1)
    context.flags |= av.codec.context.Flags.bitexact
    context.options = {"qmin": "2", "qmax": "8"}
    picture.pts = 0
    packets = context.encode(picture) + context.encode(None)
    return b"".join(bytes(packet) for packet in packets)


def _stream_span(packets, stream, fallback_frame):
    """Seconds from the first packet's start to the last packet's end."""
    start = end = None
    for packet in packets:
        if packet.pts is None:
            continue
        begin = float(packet.pts * stream.time_base)
        length = float(packet.duration * stream.time_base) if packet.duration else fallback_frame
        start = begin if start is None else min(start, begin)
        end = begin + length if end is None else max(end, begin + length)
    return 0.0 if start is None else max(0.0, end - start)


def probe_video(source, *, snapshots=0):
    """Facts about a video, from its bytes (or a path); MediaError if unusable.

    The whole file is demuxed and every video and audio packet decoded: a
    truncated upload or a damaged packet is "corrupt", whatever the header
    claims. snapshots > 0 also returns that many frames as JPEGs.
    """
    data = _open(source)
    if not data:
        raise MediaError("empty", "the file is empty")
    try:
        container = av.open(io.BytesIO(data))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as error:
        raise MediaError("not-media", "not a video FFmpeg can read") from error
    with container:
        demuxer = container.format.name
        if demuxer in IMAGE_DEMUXERS or demuxer.endswith("_pipe"):
            raise MediaError("not-media", f"a picture ({demuxer}), not a video")
        if not container.streams.video:
            raise MediaError("no-video", "the file holds no video stream")
        kind = _container_name(data, demuxer)
        if _cut_short(data, kind):
            raise MediaError("corrupt", "the file is truncated (its last box or chunk is incomplete)")
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        wanted = [stream for stream in (video, audio) if stream is not None]

        video_packets, audio_packets = [], []
        try:
            for packet in container.demux(wanted):
                if packet.size == 0:  # the demuxer's end-of-stream marker
                    continue
                if packet.is_corrupt:
                    raise MediaError("corrupt", "the file is truncated or damaged (a packet is incomplete)")
                (video_packets if packet.stream is video else audio_packets).append(packet)
        except av.error.FFmpegError as error:
            raise MediaError("corrupt", "the file cannot be read to its end") from error
        if not video_packets:
            raise MediaError("corrupt", "the video stream holds no frames")

        rate = video.average_rate or video.guessed_rate or 25
        duration = _stream_span(video_packets, video, 1 / float(rate))
        frames, motion, pictures = _decode_video(video, video_packets, snapshots)
        rms, peak = _measure_audio(audio, audio_packets) if audio is not None else (None, None)
        # An MP4/MOV index says how many frames there are; fewer on decoding
        # means the file was cut short (other containers do not count).
        if video.frames and kind in ("mp4", "mov", "3gp") and frames < video.frames:
            raise MediaError("corrupt", f"only {frames} of {video.frames} frames could be decoded")

        return VideoFacts(
            container=kind,
            video_codec=video.codec_context.name,
            width=video.codec_context.width,
            height=video.codec_context.height,
            duration=duration,
            frame_count=frames,
            has_audio=audio is not None and bool(audio_packets),
            audio_codec=audio.codec_context.name if audio is not None else None,
            audio_rms_dbfs=rms,
            audio_peak_dbfs=peak,
            motion=motion,
            snapshots=tuple(pictures),
        )


def _decode_video(stream, packets, snapshots):
    # Pick evenly spaced frames, assuming one frame per packet (true of every
    # recorder's output; if not, the last frames decoded are used).
    count = len(packets)
    targets = sorted({min(count - 1, int((k + 0.5) * count / snapshots)) for k in range(snapshots)})
    chosen, frames, motion_sum, previous = [], 0, 0.0, None
    # One scaler for every frame: a new one per frame costs more than decoding.
    thumbnails = VideoReformatter()
    try:
        for packet in [*packets, None]:
            for frame in stream.decode(packet):
                thumbnail = thumbnails.reformat(frame, width=32, height=32, format="gray").to_ndarray().astype(np.float32)
                if previous is not None:
                    motion_sum += float(np.abs(thumbnail - previous).mean())
                previous = thumbnail
                if targets and frames in targets:
                    chosen.append(encode_jpeg(frame))
                frames += 1
    except av.error.FFmpegError as error:
        raise MediaError("corrupt", "a video frame cannot be decoded") from error
    if frames == 0:
        raise MediaError("corrupt", "no video frame can be decoded")
    motion = motion_sum / (frames - 1) if frames > 1 else 0.0
    return frames, motion, chosen


def _measure_audio(stream, packets):
    if not packets:
        return None, None
    resampler = av.AudioResampler(format="flt", layout="mono", rate=METER_RATE)
    square_sum, count, peak = 0.0, 0, 0.0
    try:
        for packet in [*packets, None]:
            for frame in stream.decode(packet):
                for mono in resampler.resample(frame):
                    samples = mono.to_ndarray().astype(np.float64).ravel()
                    square_sum += float(np.dot(samples, samples))
                    count += samples.size
                    if samples.size:
                        peak = max(peak, float(np.abs(samples).max()))
        for mono in resampler.resample(None):
            samples = mono.to_ndarray().astype(np.float64).ravel()
            square_sum += float(np.dot(samples, samples))
            count += samples.size
    except av.error.FFmpegError as error:
        raise MediaError("corrupt", "the sound cannot be decoded") from error
    if count == 0:
        return float("-inf"), float("-inf")
    return _dbfs(math.sqrt(square_sum / count)), _dbfs(peak)


# --- Photos -------------------------------------------------------------------

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
GIF_MAGICS = (b"GIF87a", b"GIF89a")


def probe_image(data):
    """Facts about a JPEG or PNG photo, from its bytes; MediaError otherwise.

    The format is read from the magic bytes, then the picture is decoded;
    a JPEG must end with its EOI marker and a PNG with its IEND chunk, so a
    cut-off upload is refused even where a decoder would show half a picture.
    """
    data = bytes(data or b"")
    if not data:
        raise MediaError("empty", "the picture is empty")
    if data.startswith(GIF_MAGICS):
        raise MediaError("gif", "GIF pictures are not accepted")
    if data.startswith(JPEG_MAGIC):
        kind, demuxer = "jpeg", "jpeg_pipe"
        # Trailing bytes after EOI are common (padding, vendor data); only
        # the marker's presence is required.
        if data.rfind(b"\xff\xd9") < 3:
            raise MediaError("corrupt", "the JPEG is truncated (no end-of-image marker)")
    elif data.startswith(PNG_MAGIC):
        kind, demuxer = "png", "png_pipe"
        if b"IEND" not in data[-64:]:
            raise MediaError("corrupt", "the PNG is truncated (no IEND chunk)")
    else:
        raise MediaError("unsupported-image", "not a JPEG or PNG picture")
    try:
        with av.open(io.BytesIO(data), format=demuxer) as container:
            stream = container.streams.video[0]
            frame = next(container.decode(stream), None)
    except (av.error.FFmpegError, StopIteration, IndexError) as error:
        raise MediaError("corrupt", f"the {kind.upper()} cannot be decoded") from error
    if frame is None or frame.width < 1 or frame.height < 1:
        raise MediaError("corrupt", f"the {kind.upper()} cannot be decoded")
    return ImageFacts(format=kind, width=frame.width, height=frame.height)


# --- Fetching a picture or video by URL ------------------------------------------


class DownloadError(Exception):
    """A URL could not be fetched. reason: "url" (not an http(s) URL),
    "timeout", "too-large", "failed" (connection, HTTP status, other)."""

    def __init__(self, reason, detail):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def download(url, *, max_bytes, timeout):
    """The body behind an http(s) URL, fetched within `timeout` seconds in all.

    `requests` applies its timeout per socket operation, so a slow trickle
    could last for ever; the deadline here bounds the whole download, as a
    vendor's "下载耗时不超过4S" does. Redirects are followed (at most 5).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DownloadError("url", "not an http(s) URL")
    deadline = time.monotonic() + timeout
    session = requests.Session()
    session.max_redirects = 5
    try:
        with session.get(url, timeout=(timeout, timeout), stream=True) as response:
            if response.status_code != 200:
                raise DownloadError("failed", f"HTTP {response.status_code}")
            chunks, size = [], 0
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise DownloadError("too-large", f"larger than {max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise DownloadError("timeout", f"not downloaded within {timeout:g} s")
                chunks.append(chunk)
            return b"".join(chunks)
    except requests.Timeout as error:
        raise DownloadError("timeout", f"not downloaded within {timeout:g} s") from error
    except requests.RequestException as error:
        raise DownloadError("failed", type(error).__name__) from error
    finally:
        session.close()
