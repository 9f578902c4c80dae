"""Small, synthetic test media for the sandbox and portal tests.

Everything is drawn and synthesised here with PyAV + numpy, so the tests need
no fixture files and no network. The media are fake on purpose (a cartoon
face, noise shaped like speech): good enough for a decoder and a level
meter, never mistaken for a person.

    make_video(path, seconds=6.0, width=480, height=640, fps=15,
               container="mp4", video_codec="libx264",
               audio="speech", audio_codec="aac")
    make_jpeg(width=480, height=640, moment=0.0, orientation=1) -> bytes
    make_png(width=480, height=640, moment=0.0) -> bytes
    make_png_declaring(width, height, depth=16, colour=6) -> bytes   # a decompression bomb
    make_png_inflating_past(extra_mb=200) / make_animated_png() / split_png(png, idat_piece=1)
    with_frame_header(jpeg, marker=0xC2, width=8000, height=6000)   # a forged start of frame
    make_jpeg_of_scans(5000) / make_jpeg_with_a_second_frame(7000, 7000)
    make_video_with_long_audio(path, seconds=3, audio_seconds=3600)
    make_stalled_recording(path)           # some frames repeat the time of the one before (codec=, container=)
    with_extra_stream(src, dst, kind)      # a second audio or video, subtitles, a file, a late data packet
    remux(src, dst, container="mkv")       # the same packets in another container
    reencode(src, dst, width=360, height=480, crf=34)  # decoded and encoded again
    damage_frames(src, dst, from_frame=45)  # frames overwritten: the first decode, the rest do not

Useful combinations:

    make_video(p)                                          # phone-like MP4: H.264 + AAC
    make_video(p, container="webm", video_codec="libvpx-vp9", audio_codec="libopus")
                                                           # MediaRecorder WebM (no duration in the header)
    make_video(p, video_codec="libvpx-vp9", audio_codec="libopus", fragmented=True)
                                                           # Chromium's MediaRecorder MP4: VP9 + Opus
    make_video(p, container="flv") / container="avi" / container="mov"
    make_video(p, audio=None) / audio="silence" / audio="tone"
    make_video(p, start=3.7)                               # another take of the same scene

A 6 s 480x640 MP4 takes about a tenth of a second to make and is ~100 kB.
"""

import functools
import io
import struct
import tempfile
import zlib
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


def _encode_picture(codec, pix_fmt, width, height, moment=0.0, turns=0):
    rgb = np.ascontiguousarray(np.rot90(_face_frame(width, height, moment), k=turns))
    height, width = rgb.shape[:2]
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


# EXIF orientation → quarter turns (counter-clockwise) that store the upright
# picture so that the orientation turns it back.
ORIENTATION_TURNS = {1: 0, 3: 2, 6: 1, 8: 3}


def make_jpeg(width=480, height=640, moment=0.0, orientation=1):
    """A baseline JPEG of the cartoon face at `moment` of its scene, width x
    height as displayed. With an EXIF `orientation` (3, 6 or 8) the pixels
    are stored turned, as a phone held sideways stores them, and an EXIF
    block says how to turn them upright."""
    jpeg = _encode_picture("mjpeg", "yuvj420p", width, height, moment, ORIENTATION_TURNS[orientation])
    if orientation == 1:
        return jpeg
    entry = struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0)  # Orientation, SHORT, 1 value
    tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) + entry + struct.pack("<I", 0)
    body = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def make_png(width=480, height=640, moment=0.0):
    """A PNG of the cartoon face at `moment` of its scene, width x height."""
    return _encode_picture("png", "rgb24", width, height, moment)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@functools.lru_cache(maxsize=4)
def make_png_declaring(width, height, depth=16, colour=6):
    """A real, decodable PNG of width x height black pixels: 7000 x 7000 of
    16-bit RGBA is 381 kB of file and 392 MB of decoded frame. Compressed
    row by row, so making it never holds the frame."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    row = b"\0" * (1 + -(-width * channels * depth // 8))
    deflate = zlib.compressobj(9)
    idat = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


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
    start=0.0,
):
    """Write a short clip to `path` and return the path.

    container is one of mp4, mov, webm, mkv, flv, avi; audio is "speech",
    "tone", "silence" or None (no audio stream at all). WebM is written as
    MediaRecorder does: as a live stream, without a duration or cues, so
    whoever reads it has to scan the packets to learn how long it is.
    moving=False repeats the first frame: a photo turned into a video.
    start is the moment of the scene the clip begins at: clips with other
    starts are other takes of the same person in the same place.
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
            moment = start + (index / fps if moving else 0.0)
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


def make_png_inflating_past(width=480, height=640, extra_mb=200):
    """A PNG whose compressed data, once the picture's rows are out, goes on
    inflating to `extra_mb` megabytes of zeros (at 1:1000, a small file)."""
    deflate = zlib.compressobj(9)
    data = deflate.compress(b"\0" * (1 + width * 3) * height)
    data += b"".join(deflate.compress(b"\0" * 2**20) for _ in range(extra_mb)) + deflate.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def make_animated_png():
    """make_png() with an APNG animation control chunk (100 frames, looping)."""
    png = make_png()
    return png[:33] + png_chunk(b"acTL", struct.pack(">II", 100, 0)) + png[33:]


def split_png(png, *, idat_piece, junk_chunks=0):
    """The same picture with its compressed data cut into IDAT chunks of
    `idat_piece` bytes, after `junk_chunks` empty private chunks."""
    ihdr, position, data = png[8:33], 33, b""
    while position < len(png):
        length = int.from_bytes(png[position:position + 4], "big")
        if png[position + 4:position + 8] == b"IDAT":
            data += png[position + 8:position + 8 + length]
        position += 12 + length
    pieces = b"".join(png_chunk(b"IDAT", data[n:n + idat_piece]) for n in range(0, len(data), idat_piece))
    return png[:8] + ihdr + png_chunk(b"zzZz", b"") * junk_chunks + pieces + png_chunk(b"IEND", b"")


def with_frame_header(jpeg, *, marker, width, height):
    """The JPEG with its start-of-frame marker and size replaced."""
    position = jpeg.index(b"\xff\xc0")
    frame = bytearray(jpeg)
    frame[position + 1] = marker
    frame[position + 5:position + 9] = struct.pack(">HH", height, width)
    return bytes(frame)


def make_jpeg_of_scans(scans=5000):
    """A progressive JPEG of `scans` scans (each one more pass over every
    coefficient); its size is make_jpeg()'s, its scans are empty."""
    jpeg = with_frame_header(make_jpeg(), marker=0xC2, width=480, height=640)
    scan = b"\xff\xda" + struct.pack(">H", 8) + bytes([1, 1, 0, 0, 0, 0]) + b"\x00" * 64
    return jpeg[:-2] + scan * scans + b"\xff\xd9"


def make_jpeg_with_a_second_frame(width=7000, height=7000):
    """make_jpeg(), then a second start of frame declaring width x height and
    the scan again: FFmpeg takes the second frame's size."""
    jpeg = make_jpeg()
    start = jpeg.index(b"\xff\xc0")
    second_frame = with_frame_header(jpeg, marker=0xC0, width=width, height=height)[start:start + 19]
    return jpeg[:-2] + second_frame + jpeg[jpeg.index(b"\xff\xda"):]


def make_video_with_long_audio(path, *, seconds=3.0, audio_seconds=3600.0):
    """A short phone-like MP4 whose sound goes on for `audio_seconds` of
    silence: one encoded AAC frame written again and again, so an hour takes
    two seconds to make and some 2 MB."""
    path = Path(make_video(path, seconds=seconds, audio=None))
    longer = path.with_suffix(".long.mp4")
    with av.open(str(path)) as source, av.open(str(longer), "w", format="mp4") as output:
        video = output.add_stream_from_template(source.streams.video[0])
        sound = output.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        silence = av.AudioFrame.from_ndarray(np.zeros((1, 1024), dtype=np.float32), format="flt", layout="mono")
        silence.sample_rate, silence.pts = AUDIO_RATE, 0
        encoded = [bytes(p) for p in sound.encode(silence) + sound.encode(None)][0]
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = video
                output.mux(packet)
        for number in range(int(audio_seconds * AUDIO_RATE / 1024)):
            packet = av.Packet(encoded)
            packet.stream, packet.time_base = sound, Fraction(1, AUDIO_RATE)
            packet.pts = packet.dts = number * 1024
            packet.duration = 1024
            output.mux(packet)
    longer.replace(path)
    return path


def make_stalled_recording(path, *, seconds=4.0, fps=30, codec="libvpx", container="webm"):
    """A MediaRecorder-like file (millisecond times: VP8 in WebM, or H.264 in
    Matroska as desktop Chromium records it) from a recorder that stalled now
    and then, as on a busy machine: some frames carry the time of the frame
    before them."""
    moments = [round(1000 * number / fps) for number in range(int(seconds * fps))]
    moments = [moments[number - 1] if number % 7 == 3 else moment for number, moment in enumerate(moments)]
    with av.open(str(path), "w", format=CONTAINER_FORMATS.get(container, container)) as output:
        stream = output.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = 240, 320, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = VIDEO_OPTIONS[codec]
        for moment in moments:
            frame = av.VideoFrame.from_ndarray(_face_frame(240, 320, moment / 1000), format="rgb24")
            frame.pts, frame.time_base = moment, Fraction(1, 1000)
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return Path(path)


def with_timecode_track(src, dst):
    """`src` copied into a QuickTime file with a timecode (tmcd) data track,
    as iPhones record it."""
    with av.open(str(src)) as source, av.open(str(dst), "w", format="mov", options={"write_tmcd": "1"}) as output:
        copies = {s.index: output.add_stream_from_template(s) for s in source.streams}
        copies[source.streams.video[0].index].metadata["timecode"] = "00:00:00:00"
        for packet in source.demux():
            if packet.dts is None:
                continue
            packet.stream = copies[packet.stream.index]
            output.mux(packet)
    return Path(dst)


def with_extra_stream(src, dst, kind, *, at_seconds=0.0):
    """`src` copied into Matroska (MPEG-TS for "data") with one more stream:
    "audio" or "video" (its own track again), "subtitle" (a line of text
    lasting an hour), "attachment" (a file, as MKV carries fonts) or "data"
    (one packet `at_seconds` in, as a phone's metadata track has)."""
    fmt = "mpegts" if kind == "data" else "matroska"
    with av.open(str(src)) as source, av.open(str(dst), "w", format=fmt) as output:
        copies = {s.index: output.add_stream_from_template(s) for s in source.streams}
        extra_packets = []
        if kind in ("audio", "video"):
            twin = next(s for s in source.streams if s.type == kind)
            copies[("twin", twin.index)] = output.add_stream_from_template(twin)
        elif kind == "subtitle":
            line = av.Packet(b"hello")
            line.stream = output.add_mux_stream("subrip", time_base=Fraction(1, 1000))
            line.time_base, line.pts, line.dts, line.duration = Fraction(1, 1000), 0, 0, 3_600_000
            extra_packets.append(line)
        elif kind == "attachment":
            output.add_attachment("notes.bin", "application/octet-stream", b"\x00" * 1000)
        elif kind == "data":
            marker = av.Packet(b"metadata")
            marker.stream = output.add_data_stream()
            marker.time_base = Fraction(1, 90000)
            marker.pts = marker.dts = int(at_seconds * 90000)
            extra_packets.append(marker)
        for packet in source.demux():
            if packet.dts is None:
                continue
            index = packet.stream.index
            packet.stream = copies[index]
            output.mux(packet)
            if ("twin", index) in copies:
                twin = av.Packet(bytes(packet))
                twin.stream, twin.time_base = copies[("twin", index)], packet.time_base
                twin.pts, twin.dts, twin.duration = packet.pts, packet.dts, packet.duration
                twin.is_keyframe = packet.is_keyframe
                output.mux(twin)
        for packet in extra_packets:
            output.mux(packet)
    return Path(dst)


def remux(src, dst, container="mkv"):
    """The same packets of `src` in another container."""
    with av.open(str(src)) as source, av.open(str(dst), "w", format=CONTAINER_FORMATS[container]) as output:
        copies = {s.index: output.add_stream_from_template(s) for s in source.streams}
        for packet in source.demux():
            if packet.dts is not None:
                packet.stream = copies[packet.stream.index]
                output.mux(packet)
    return Path(dst)


def reencode(src, dst, *, width=360, height=480, crf=34):
    """`src` decoded and encoded again as H.264 + AAC MP4, at another size
    and quality: the same recording, other bytes."""
    with av.open(str(src)) as source, av.open(str(dst), "w", format="mp4") as output:
        in_video = source.streams.video[0]
        in_audio = next(iter(source.streams.audio), None)
        video = output.add_stream("libx264", rate=in_video.average_rate or 15,
                                  options={"preset": "ultrafast", "crf": str(crf)})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = output.add_stream("aac", rate=AUDIO_RATE, layout="mono") if in_audio is not None else None
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=AUDIO_RATE)
        for frame in source.decode(*[s for s in (in_video, in_audio) if s is not None]):
            if isinstance(frame, av.VideoFrame):
                scaled = frame.reformat(width=width, height=height, format="yuv420p")
                scaled.pts, scaled.time_base = frame.pts, frame.time_base
                output.mux(video.encode(scaled))
            else:
                for chunk in resampler.resample(frame):
                    chunk.pts = None
                    output.mux(sound.encode(chunk))
        output.mux(video.encode(None))
        if sound is not None:
            output.mux(sound.encode(None))
    return Path(dst)


def make_sideways_video(path, *, seconds=3.0, width=480, height=640, fps=15):
    """A portrait clip stored as an iPhone stores one: the sensor's landscape
    frames (the scene's top at the left) and, in the track header, the
    display matrix that turns them 90° clockwise to stand upright."""
    path = Path(path)
    with av.open(str(path), "w", format="mp4") as output:
        video = output.add_stream("libx264", rate=fps, options=VIDEO_OPTIONS["libx264"])
        video.width, video.height, video.pix_fmt = height, width, "yuv420p"
        for index in range(round(seconds * fps)):
            stored = np.ascontiguousarray(np.rot90(_face_frame(width, height, index / fps), k=1))
            frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            output.mux(video.encode(frame))
        output.mux(video.encode(None))
    data = bytearray(path.read_bytes())
    matrix = data.index(b"tkhd") + 44  # version 0: after flags, times, track id, duration, layer, volume
    data[matrix:matrix + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    path.write_bytes(bytes(data))
    return path


def damage_frames(src, dst, *, from_frame=45):
    """`src` with the bytes of every video frame from `from_frame` on
    overwritten by noise, the container left whole: its timings and first
    frames read well, and decoding breaks further on (as a recording
    damaged on the phone's storage)."""
    data = bytearray(Path(src).read_bytes())
    with av.open(str(src)) as source:
        frames = [(p.pos, p.size) for p in source.demux(video=0) if p.size]
    noise = np.random.default_rng(7)
    for position, size in frames[from_frame:]:
        data[position:position + size] = noise.integers(0, 256, size, dtype=np.uint8).tobytes()
    Path(dst).write_bytes(bytes(data))
    return Path(dst)
