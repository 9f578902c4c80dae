"""Photos: what decoding one will cost (refused from its header before a
pixel is decoded when too much), the photo itself, and the upright JPEG
the vendor gets."""

import re
import zlib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
from django.utils.translation import gettext_lazy as _

from .fingerprint import Fingerprint, dhash
from .formats import MediaRejected, image_format
from .frames import pull_frames, upright_graph
from .video import MIN_SHORT_SIDE

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
                      fingerprint=Fingerprint.of_frames("photo", [dhash(frame, rotation)]))


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
    upright = next(pull_frames(_picture_graph(frame, rotation, size, "yuvj420p")))
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
    graph = upright_graph(
        {"width": frame.width, "height": frame.height, "format": frame.format.name, "time_base": Fraction(1, 25)},
        rotation, *size, pix_fmt,
    )
    frame.pts = 0
    graph.push(frame)
    graph.push(None)
    return graph
