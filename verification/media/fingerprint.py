"""Fingerprints of recordings and photos: a few difference hashes of
sampled frames, so the same recording sent again in other bytes (padded,
re-muxed, re-encoded) is found."""

from dataclasses import dataclass

import av
import numpy

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


def dhash(frame, rotation: int = 0) -> int:
    """The 64-bit difference hash of a picture turned upright by `rotation`
    (degrees clockwise)."""
    turned = rotation in (90, 270)
    width, height = (DHASH_SIZE, DHASH_SIZE + 1) if turned else (DHASH_SIZE + 1, DHASH_SIZE)
    grey = frame.reformat(width=width, height=height, format="gray", interpolation="AREA").to_ndarray()
    grey = numpy.rot90(grey.astype(numpy.int16), k=-(rotation // 90))
    brighter = (grey[:, 1:] - grey[:, :-1]) > DHASH_MARGIN
    return int.from_bytes(numpy.packbits(brighter.flatten()).tobytes(), "big")


class FrameSampler:
    """Hashes the frames at FINGERPRINT_FRACTIONS of `duration` from upright
    frames given in order, each with its time from the first frame."""

    def __init__(self, duration: float):
        self.targets = [duration * fraction for fraction in FINGERPRINT_FRACTIONS]
        self.hashes = []
        self.last = None

    def offer(self, frame, seconds: float) -> None:
        self.last = frame
        while len(self.hashes) < len(self.targets) and seconds >= self.targets[len(self.hashes)] - 0.001:
            self.hashes.append(dhash(frame))

    @property
    def wants_more(self) -> bool:
        return len(self.hashes) < len(self.targets)

    def fingerprint(self) -> Fingerprint | None:
        if self.last is None:
            return None
        while self.wants_more:  # the video ended before a target: its last frame stands in
            self.hashes.append(dhash(self.last))
        return Fingerprint.of_frames("video", self.hashes)


def fingerprint_video(path, *, duration: float) -> Fingerprint | None:
    """The fingerprint of an upright video (as normalise_video writes it):
    for each fraction, a seek to the keyframe before it and decoding up to
    it; a point less than a second on is reached by decoding on."""
    sampler = FrameSampler(duration)
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
