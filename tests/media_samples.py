"""Small, synthetic test media for the sandbox and portal tests.

Everything is drawn and synthesised here with PyAV + numpy, so the tests need
no fixture files and no network. The media are fake on purpose (a cartoon
face, noise shaped like speech): good enough for a decoder and a level
meter, never mistaken for a person.

    make_video(path, seconds=6.0, width=480, height=640, fps=15,
               container="mp4", video_codec="libx264",
               audio="speech", audio_codec="aac")
    make_jpeg(width=480, height=640) -> bytes
    make_png(width=480, height=640) -> bytes

Useful combinations:

    make_video(p)                                          # phone-like MP4: H.264 + AAC
    make_video(p, container="webm", video_codec="libvpx-vp9", audio_codec="libopus")
                                                           # MediaRecorder WebM (no duration in the header)
    make_video(p, video_codec="libvpx-vp9", audio_codec="libopus", fragmented=True)
                                                           # Chromium's MediaRecorder MP4: VP9 + Opus
    make_video(p, container="flv") / container="avi" / container="mov"
    make_video(p, audio=None) / audio="silence" / audio="tone"

A 6 s 480x640 MP4 takes about a tenth of a second to make and is ~100 kB.
"""

import functools
import io
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

AUDIO_RATE = 48000
# "speech" is shaped to sit near -20 dBFS RMS, a normal speaking level for a
# phone recording with automatic gain; "tone" is a steady 440 Hz at -12 dBFS.
SPEECH_RMS_DBFS = -20.0
TONE_PEAK_DBFS = -9.0

# The muxer name PyAV/FFmpeg uses for each container we are asked for.
CONTAINER_FORMATS = {
    "mp4": "mp4",
    "mov": "mov",
    "webm": "webm",
    "mkv": "matroska",
    "flv": "flv",
    "avi": "avi",
}
# Encoder options that keep generation fast and the files small.
VIDEO_OPTIONS = {
    "libx264": {"preset": "ultrafast", "crf": "30", "tune": "zerolatency"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8", "crf": "40", "b:v": "0", "row-mt": "1"},
    "libvpx": {"deadline": "realtime", "cpu-used": "16", "crf": "30", "b:v": "400k"},
    "mpeg4": {"qscale": "8"},
}


# --- Pictures -------------------------------------------------------------------


def _fill_ellipse(frame, cx, cy, ax, ay, colour, above=None):
    """Paint an ellipse, touching only its bounding box (fast enough for 90
    frames a clip); `above` keeps only the rows above that y."""
    height, width = frame.shape[:2]
    top, bottom = max(0, int(cy - ay)), min(height, int(cy + ay) + 1)
    left, right = max(0, int(cx - ax)), min(width, int(cx + ax) + 1)
    if above is not None:
        bottom = min(bottom, max(top, int(above)))
    if top >= bottom or left >= right or ax <= 0 or ay <= 0:
        return
    y = (np.arange(top, bottom, dtype=np.float32)[:, None] - cy) / ay
    x = (np.arange(left, right, dtype=np.float32)[None, :] - cx) / ax
    inside = (x * x + y * y) <= 1.0
    np.copyto(frame[top:bottom, left:right], np.asarray(colour, dtype=np.uint8), where=inside[..., None])


@functools.lru_cache(maxsize=64)
def _backdrop(width, height, drift=0):
    shade = (200 + drift - 60 * np.arange(height) / height).astype(np.int16)[:, None]
    rgb = np.stack([shade - 20, shade - 5, shade + 10], axis=-1)
    backdrop = np.clip(np.broadcast_to(rgb, (height, width, 3)), 0, 255).astype(np.uint8)
    backdrop.flags.writeable = False
    return backdrop


def _face_frame(width, height, t=0.0):
    """An RGB frame: backdrop, a face that sways and a mouth that opens."""
    # The backdrop brightness drifts a little, like auto exposure.
    frame = _backdrop(width, height, round(8 * np.sin(t * 1.3))).copy()
    scale = min(width, height)
    cx = width / 2 + 0.08 * scale * np.sin(t * 2.1)
    cy = height * 0.45 + 0.03 * scale * np.sin(t * 1.7)
    rx, ry = 0.27 * scale, 0.36 * scale

    _fill_ellipse(frame, cx, cy + 1.15 * ry, 1.6 * rx, 0.55 * ry, (45, 70, 110))  # shoulders
    _fill_ellipse(frame, cx, cy, rx, ry, (236, 196, 164))  # face
    _fill_ellipse(frame, cx, cy - 0.75 * ry, 0.95 * rx, 0.4 * ry, (60, 40, 30), above=cy - 0.55 * ry)  # hair
    blink = 0.15 if (t % 2.3) < 0.15 else 1.0
    for side in (-1, 1):
        _fill_ellipse(
            frame, cx + side * 0.38 * rx, cy - 0.12 * ry, 0.13 * rx, 0.06 * ry * blink, (40, 30, 25)
        )
    # The mouth opens and closes at a syllable rate, as when reading digits.
    opening = 0.02 + 0.07 * abs(np.sin(t * np.pi * 2.0))
    _fill_ellipse(frame, cx, cy + 0.45 * ry, 0.3 * rx, opening * ry, (150, 60, 60))
    return frame


def _encode_picture(codec, pix_fmt, width, height):
    rgb = _face_frame(width, height)
    context = av.CodecContext.create(codec, "w")
    context.width, context.height, context.pix_fmt = width, height, pix_fmt
    context.time_base = Fraction(1, 25)
    if codec == "mjpeg":
        # Full-range YUV is what JPEG files hold; a fixed quality keeps it small.
        context.color_range = 2
        # JFIF header (from the square pixels), no "Lavc" comment (bitexact).
        context.sample_aspect_ratio = Fraction(1, 1)
        context.flags |= av.codec.context.Flags.bitexact
        context.options = {"qmin": "2", "qmax": "6"}
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
    frame.pts = 0
    packets = context.encode(frame) + context.encode(None)
    return b"".join(bytes(packet) for packet in packets)


def make_jpeg(width=480, height=640):
    """A baseline JPEG (JFIF) of the cartoon face, width x height."""
    return _encode_picture("mjpeg", "yuvj420p", width, height)


def make_png(width=480, height=640):
    """A PNG of the cartoon face, width x height."""
    return _encode_picture("png", "rgb24", width, height)


# --- Sound ----------------------------------------------------------------------


def _speech(samples, rate, seed=7):
    """Speech-like sound: noise through three formant-ish resonances, switched
    on and off at a syllable rate with short pauses, at a speaking level."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / rate
    spectrum = np.fft.rfft(rng.standard_normal(samples))
    freqs = np.fft.rfftfreq(samples, 1 / rate)
    shape = sum(
        gain * np.exp(-(((freqs - centre) / width) ** 2))
        for centre, width, gain in ((500, 180, 1.0), (1500, 250, 0.6), (2500, 300, 0.35))
    )
    voiced = np.fft.irfft(spectrum * shape, n=samples)
    # A pitch buzz under the formants, gliding like intonation.
    pitch = 2 * np.pi * np.cumsum(130 + 25 * np.sin(2 * np.pi * 0.4 * t)) / rate
    voiced = voiced / (np.abs(voiced).max() or 1) + 0.3 * np.sin(pitch)
    # Four syllables a second, with a breath pause every 1.5 s.
    envelope = np.clip(np.sin(2 * np.pi * 2.0 * t), 0, None) ** 0.6
    envelope *= (t % 1.5) < 1.2
    signal = voiced * envelope
    rms = np.sqrt(np.mean(signal**2)) or 1.0
    return (signal * (10 ** (SPEECH_RMS_DBFS / 20) / rms)).astype(np.float32)


def _audio_signal(kind, samples, rate):
    if kind == "speech":
        return _speech(samples, rate)
    if kind == "tone":
        t = np.arange(samples) / rate
        return (10 ** (TONE_PEAK_DBFS / 20) * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    if kind == "silence":
        return np.zeros(samples, dtype=np.float32)
    raise ValueError(f"audio must be 'speech', 'tone', 'silence' or None, not {kind!r}")


# --- Video ----------------------------------------------------------------------


def make_video(
    path,
    *,
    seconds=6.0,
    width=480,
    height=640,
    fps=15,
    container="mp4",
    video_codec="libx264",
    audio="speech",
    audio_codec="aac",
    moving=True,
    fragmented=False,
):
    """Write a short clip to `path` and return the path.

    container is one of mp4, mov, webm, mkv, flv, avi; audio is "speech",
    "tone", "silence" or None (no audio stream at all). WebM is written as
    MediaRecorder does: as a live stream, without a duration or cues, so
    whoever reads it has to scan the packets to learn how long it is.
    moving=False repeats the first frame: a photo turned into a video.
    fragmented=True writes an MP4 as Chromium's MediaRecorder does: an
    empty moov, then moof+mdat fragments (no frame count in the header).
    """
    path = Path(path)
    fmt = CONTAINER_FORMATS[container]
    options = {}
    if fmt == "webm":
        options["live"] = "1"
    if fmt in ("mp4", "mov"):
        # moov first, so the file can be read from the start, as phones write it.
        options["movflags"] = "frag_keyframe+empty_moov+default_base_moof" if fragmented else "faststart"
    frames = max(1, round(seconds * fps))

    with av.open(str(path), mode="w", format=fmt, options=options) as output:
        video = output.add_stream(video_codec, rate=fps, options=VIDEO_OPTIONS.get(video_codec, {}))
        video.width, video.height = width, height
        video.pix_fmt = "yuv420p"
        # A keyframe every second, like a recorder; it also keeps H.264 in FLV
        # and AVI seekable.
        video.codec_context.gop_size = fps

        sound = None
        if audio is not None:
            sound = output.add_stream(audio_codec, rate=AUDIO_RATE, layout="mono")

        for index in range(frames):
            moment = index / fps if moving else 0.0
            frame = av.VideoFrame.from_ndarray(_face_frame(width, height, moment), format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            output.mux(video.encode(frame))
        output.mux(video.encode(None))

        if sound is not None:
            total = round(seconds * AUDIO_RATE)
            signal = _audio_signal(audio, total, AUDIO_RATE)
            chunk = sound.codec_context.frame_size or 1024
            for start in range(0, total, chunk):
                piece = signal[start : start + chunk]
                if len(piece) < chunk and sound.codec_context.frame_size:
                    piece = np.pad(piece, (0, chunk - len(piece)))
                frame = av.AudioFrame.from_ndarray(piece.reshape(1, -1), format="flt", layout="mono")
                frame.sample_rate = AUDIO_RATE
                frame.pts = start
                frame.time_base = Fraction(1, AUDIO_RATE)
                output.mux(sound.encode(frame))
            output.mux(sound.encode(None))
    return path


@functools.lru_cache(maxsize=64)
def video_bytes(**kwargs):
    """make_video into memory: the file's bytes (same keywords as make_video).

    Cached for the whole test run, so test modules asking for the same clip
    share one encoding; bytes cannot be changed by whoever gets them.
    """
    suffix = "." + kwargs.get("container", "mp4")
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / f"clip{suffix}"
        make_video(target, **kwargs)
        return target.read_bytes()


def image_size(data):
    """(width, height) of an encoded picture, read with PyAV (for assertions)."""
    with av.open(io.BytesIO(data)) as source:
        stream = source.streams.video[0]
        return stream.codec_context.width, stream.codec_context.height
