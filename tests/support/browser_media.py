"""Fake camera and microphone for the browser tests: files Chromium plays as
its capture devices, and the flags that make it do so.

    media = write_fake_media(tmp_path_factory.mktemp("media"))
    driver = chromium(extra_args=fake_media_args(media))

The camera is a YUV4MPEG2 clip of a cartoon face that talks and blinks in
front of a moving background (Chromium loops it); the microphone is a WAV of
speech-like sound: voiced syllables with vowel formants, consonant bursts and
pauses, at a normal speaking level. A steady test tone would not do: the
browser's noise suppression learns it within a second and records silence.
Both files are generated in well under a second."""

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

VIDEO_WIDTH, VIDEO_HEIGHT = 480, 640  # portrait, as the recording page asks for
VIDEO_FPS = 15
AUDIO_RATE = 48_000


@dataclass(frozen=True)
class FakeMedia:
    video: Path
    audio: Path


def write_fake_media(folder) -> FakeMedia:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return FakeMedia(
        video=write_fake_camera(folder / "camera.y4m"),
        audio=write_fake_microphone(folder / "microphone.wav"),
    )


def fake_media_args(media: FakeMedia, *, grant_permission: bool = True) -> tuple[str, ...]:
    """Chromium flags that play `media` as camera and microphone. With
    grant_permission=False the permission prompt is not auto-accepted but
    denied, so getUserMedia fails with NotAllowedError, as when a person
    refuses the camera."""
    args = (
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={media.video}",
        f"--use-file-for-fake-audio-capture={media.audio}",
    )
    if grant_permission:
        return ("--use-fake-ui-for-media-stream", *args)
    return ("--deny-permission-prompts", *args)


# --- camera ----------------------------------------------------------------------------------


def write_fake_camera(path, *, width=VIDEO_WIDTH, height=VIDEO_HEIGHT, fps=VIDEO_FPS, seconds=2.0) -> Path:
    """A looping Y4M (4:2:0) clip: a face whose mouth opens and closes and
    whose eyes blink, a background with drifting stripes, and a square
    moving round the frame, so every frame differs from the last."""
    path = Path(path)
    frames = int(round(fps * seconds))
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = width / 2, height * 0.46
    face_a, face_b = width * 0.30, height * 0.30  # half axes of the face oval

    face = ((x - cx) / face_a) ** 2 + ((y - cy) / face_b) ** 2 <= 1
    hair = (((x - cx) / (face_a * 1.08)) ** 2 + ((y - cy + face_b * 0.25) / (face_b * 0.95)) ** 2 <= 1) & (
        y < cy - face_b * 0.55
    )
    neck = (np.abs(x - cx) < face_a * 0.38) & (y > cy + face_b * 0.8) & (y < cy + face_b * 1.35)
    shoulders = ((x - cx) / (width * 0.55)) ** 2 + ((y - height * 1.05) / (height * 0.25)) ** 2 <= 1
    eye_y = cy - face_b * 0.12
    eye_dx = face_a * 0.40
    mouth_y = cy + face_b * 0.45

    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for n in range(frames):
            phase = 2 * np.pi * n / frames
            rgb = np.empty((height, width, 3), np.float32)
            stripes = 0.5 + 0.5 * np.sin((x + y) / 24.0 - phase * 2)
            rgb[..., 0] = 70 + 40 * stripes
            rgb[..., 1] = 110 + 50 * stripes
            rgb[..., 2] = 160 + 40 * stripes
            rgb[shoulders | neck] = (60, 70, 110)
            rgb[neck] = (214, 170, 140)
            rgb[face] = (224, 182, 150)
            rgb[hair] = (40, 30, 25)

            blink = 0.12 if n % frames in (frames // 3, frames // 3 + 1) else 1.0
            for side in (-1, 1):
                eye = ((x - cx - side * eye_dx) / (face_a * 0.16)) ** 2 + (
                    (y - eye_y) / (face_b * 0.07 * blink)
                ) ** 2 <= 1
                rgb[eye] = (250, 250, 250)
                pupil = ((x - cx - side * eye_dx) ** 2 + (y - eye_y) ** 2 <= (face_a * 0.07) ** 2) & eye
                rgb[pupil] = (30, 30, 40)
            opening = 0.03 + 0.09 * (0.5 + 0.5 * np.sin(phase * 4))
            mouth = ((x - cx) / (face_a * 0.35)) ** 2 + ((y - mouth_y) / (face_b * opening)) ** 2 <= 1
            rgb[mouth] = (140, 40, 50)

            sx = int((width - 60) * (0.5 + 0.5 * np.cos(phase)))
            sy = int((height - 60) * (0.5 + 0.5 * np.sin(phase)))
            rgb[sy : sy + 60, sx : sx + 60] = (240, 200, 40)

            out.write(b"FRAME\n")
            out.write(_yuv420(rgb))
    return path


def _yuv420(rgb: np.ndarray) -> bytes:
    """BT.601 full-range RGB → planar Y, U, V with 2×2 chroma subsampling."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    u = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
    v = 0.5 * r - 0.418688 * g - 0.081312 * b + 128
    h, w = luma.shape
    u = u.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    v = v.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    planes = (np.clip(p, 0, 255).astype(np.uint8).tobytes() for p in (luma, u, v))
    return b"".join(planes)


# --- microphone ------------------------------------------------------------------------------

# First three formants (Hz) of a few vowels, roughly a man's voice.
VOWELS = ((730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480), (570, 840, 2410))


def write_fake_microphone(path, *, seconds=3.0, rate=AUDIO_RATE, level_dbfs=-20.0) -> Path:
    """Mono 16-bit PCM of speech-like sound: about four syllables a second,
    each a voiced vowel (a gliding pitch near 120–170 Hz, its harmonics
    shaped by three formants) after a short noisy consonant, with gaps and
    one longer pause, at `level_dbfs` RMS over the speaking parts."""
    path = Path(path)
    rng = np.random.default_rng(4821)
    total = int(seconds * rate)
    signal = np.zeros(total, np.float64)
    t = 0.05
    syllable = 0
    while True:
        length = rng.uniform(0.16, 0.28)
        if t + length > seconds - 0.05:
            break
        start, count = int(t * rate), int(length * rate)
        signal[start : start + count] += _syllable(rng, count, rate, VOWELS[syllable % len(VOWELS)])
        syllable += 1
        t += length + (rng.uniform(0.35, 0.5) if syllable % 5 == 0 else rng.uniform(0.04, 0.12))

    speaking = np.abs(signal) > 1e-4
    rms = np.sqrt(np.mean(signal[speaking] ** 2))
    signal *= 10 ** (level_dbfs / 20) / rms
    signal = np.clip(signal, -0.95, 0.95)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((signal * 32767).astype("<i2").tobytes())
    return path


def _syllable(rng, count: int, rate: int, formants) -> np.ndarray:
    t = np.arange(count) / rate
    f0 = rng.uniform(120, 170) * (1 + rng.uniform(-0.12, 0.12) * t / t[-1])  # a gliding pitch
    f0 *= 1 + 0.01 * rng.standard_normal(count).cumsum() / np.sqrt(count)  # and a little jitter
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = np.zeros(count)
    mean_f0 = f0.mean()
    for k in range(1, int(4000 / mean_f0)):
        freq = k * mean_f0
        gain = sum(1 / (1 + ((freq - f) / (60 + 0.05 * f)) ** 2) for f in formants) / k**0.5
        voiced += gain * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    envelope = np.sin(np.pi * np.arange(count) / count) ** 0.6
    voiced *= envelope / (np.abs(voiced).max() + 1e-9)

    burst = int(0.04 * rate)  # a consonant: brief high-passed noise before the vowel
    noise = np.diff(rng.standard_normal(burst + 1)) * 0.25 * np.hanning(burst)
    voiced[:burst] = voiced[:burst] * np.linspace(0, 1, burst) + noise
    return voiced
