"""The server side of a recorded upload, for 6 s clips as browsers'
MediaRecorder makes them: CPU time and peak memory of probe + checks +
speech level + normalise to H.264/AAC MP4 + the streamed base64 form body
Juhe gets.

- desktop Chromium as the recorder asks it now: H.264 (Constrained
  Baseline, 640x480) + Opus, in fragmented MP4 and in Matroska: the picture
  copied, the sound made AAC. Target: <= 0.15 CPU-s.
- VP9 + Opus WebM (Firefox, and desktop Chromium before): transcoded,
  beside a bare PyAV transcode with the same encoder settings; and each
  libx264 preset's CPU and SSIM against the source, to choose
  normalise.X264_PRESET (the fastest with SSIM >= 0.97).
- a phone's H.264 + AAC MP4: remuxed.

    .venv/bin/python bench/video_pipeline.py [--runs 5] [--no-presets]

The machine may be shared: every figure is the median of --runs runs, with
their spread (min-max), and the ratios are taken within the same run.

Each measurement runs in a fresh process so its peak RSS is its own (its
VmHWM: ru_maxrss would also count the size of the process that started it,
which Linux carries across exec).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What recorder.js asks MediaRecorder for (static/js/recorder.js).
VIDEO_BITS_PER_SECOND = 1_100_000
AUDIO_BITS_PER_SECOND = 64_000
SECONDS = 6


def make_clip(path: Path, *, start: float = 0.0, preset: str = "veryfast") -> None:
    """A 6 s clip at the recorder's bitrates: `recording.webm` as Firefox's
    MediaRecorder makes it (VP9 + Opus, 480x640), `recording.mp4` as
    Safari's and Android Chrome's do (H.264 + AAC, fragmented MP4, 480x640),
    `desktop.mp4` and `desktop.mkv` as desktop Chromium's does when asked
    for H.264 with Opus (640x480 Constrained Baseline). `start` makes
    another take of the scene (the portal refuses a recording sent before);
    `preset` is libx264's, for making many takes quickly."""
    sys.path.insert(0, str(ROOT))
    from tests.support import media_samples

    if "noisy" in path.stem:
        # A webcam's grain (sigma 4 of 255): harder to compress than the cartoon.
        import numpy as np

        draw, grain = media_samples._face_frame, np.random.default_rng(7)
        media_samples._face_frame = lambda w, h, t=0.0: np.clip(
            draw(w, h, t) + grain.normal(0, 4, (h, w, 1)), 0, 255).astype(np.uint8)
    if path.stem.startswith("desktop"):
        media_samples.VIDEO_OPTIONS["libx264"] = {
            "preset": preset, "profile": "baseline", "b": str(VIDEO_BITS_PER_SECOND), "tune": "zerolatency",
        }
        container = "mkv" if path.suffix == ".mkv" else "mp4"
        media_samples.make_video(path, seconds=SECONDS, width=640, height=480, fps=30, container=container,
                                 audio_codec="libopus", fragmented=container == "mp4", start=start)
        return

    # Encode at the recorder's bitrate, so the file is as large as a real upload.
    media_samples.VIDEO_OPTIONS["libvpx-vp9"] = {
        "deadline": "realtime", "cpu-used": "8", "b:v": str(VIDEO_BITS_PER_SECOND), "row-mt": "1",
    }
    media_samples.VIDEO_OPTIONS["libx264"] = {"preset": preset, "b": str(VIDEO_BITS_PER_SECOND), "tune": "zerolatency"}
    if path.suffix == ".mp4":
        media_samples.make_video(path, seconds=SECONDS, width=480, height=640, fps=30, fragmented=True, start=start)
        return
    media_samples.make_video(
        path, seconds=SECONDS, width=480, height=640, fps=30, container="webm",
        video_codec="libvpx-vp9", audio_codec="libopus", start=start,
    )


PIPELINE = """
import os, sys, tempfile, time
from pathlib import Path
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kyc_portal.settings")
os.environ.setdefault("DEBUG", "1")
import django; django.setup()
from verification import media
from verification.vendors import juhe
clip = Path(sys.argv[1])
if len(sys.argv) > 3:
    media.normalise.X264_PRESET = sys.argv[3]
def once():
    facts = media.probe_video(clip, measure_speech=True)
    media.check_video(facts, needs_speech=True)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.mp4"
        media.normalise_video(clip, out, facts=facts, max_bytes=juhe.VIDEO_MAX_BYTES)
        size = out.stat().st_size
        if len(sys.argv) > 4:
            import shutil; shutil.copy(out, sys.argv[4])
        with tempfile.TemporaryFile() as body:
            juhe._write_form(body, {"key": "k"}, video_field="videoBase64", video=out, prefix="")
    return size
# A worker and a web process are warm: the first upload's one-off costs
# (codec tables, lazy imports) are paid before the clock starts.
once()
count = int(sys.argv[2])
start = time.process_time(); wall = time.perf_counter()
for _ in range(count):
    size = once()
print((time.process_time() - start) / count, (time.perf_counter() - wall) / count, int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]), size)
"""

BARE = """
import sys, tempfile, time
from fractions import Fraction
from pathlib import Path
import av
from av.video.frame import PictureType
clip = Path(sys.argv[1])
def once():
    with tempfile.TemporaryDirectory() as folder:
        with av.open(str(clip)) as src, av.open(str(Path(folder) / "o.mp4"), "w", format="mp4", options={"movflags": "+faststart"}) as dst:
            vin = src.streams.video[0]; vin.thread_type = "AUTO"; ain = src.streams.audio[0]
            v = dst.add_stream("libx264", rate=30); v.width, v.height, v.pix_fmt = 480, 640, "yuv420p"
            v.codec_context.time_base = Fraction(1, 1000); v.thread_type = "AUTO"
            v.options = {"preset": sys.argv[3], "crf": "26", "maxrate": "7000000", "bufsize": "14000000"}
            a = dst.add_stream("aac", rate=48000, layout="mono", options={"aac_coder": "fast"}); a.bit_rate = 64000
            resampler = av.AudioResampler(format="fltp", layout="mono", rate=48000)
            first = None
            for frame in src.decode(vin, ain):
                if isinstance(frame, av.VideoFrame):
                    first = frame.time if first is None else first
                    out = frame.reformat(format="yuv420p")
                    out.pts = round((frame.time - first) * 1000); out.time_base = Fraction(1, 1000)
                    out.pict_type = PictureType.NONE
                    dst.mux(v.encode(out))
                else:
                    for chunk in resampler.resample(frame):
                        chunk.pts = None
                        dst.mux(a.encode(chunk))
            dst.mux(v.encode(None)); dst.mux(a.encode(None))
once()  # warm, as for the pipeline
count = int(sys.argv[2])
start = time.process_time(); wall = time.perf_counter()
for _ in range(count):
    once()
print((time.process_time() - start) / count, (time.perf_counter() - wall) / count, int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]), 0)
"""


def measure(script: str, clip: Path, *extra: str) -> tuple[float, float, float, int]:
    done = subprocess.run([sys.executable, "-c", script, str(clip), "3", *extra], cwd=ROOT, capture_output=True,
                          text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    cpu, wall, rss_kb, size = done.stdout.split()
    return float(cpu), float(wall), int(rss_kb) / 1024, int(size)


def uploads_per_minute(clip: Path, *, processes: int, each: int) -> float:
    """As a worker per core would: `processes` pipelines side by side."""
    started = time.perf_counter()
    running = [
        subprocess.Popen([sys.executable, "-c", PIPELINE, str(clip), str(each)], cwd=ROOT, stdout=subprocess.DEVNULL,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
        for _ in range(processes)
    ]
    if any(process.wait() for process in running):
        raise RuntimeError("a pipeline process failed")
    return processes * each / (time.perf_counter() - started) * 60


def luma_frames(path: Path) -> list:
    import av

    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="gray").astype("float64") for frame in container.decode(video=0)]


def ssim(a, b) -> float:
    """Mean SSIM of two luma planes over 8x8 windows (as FFmpeg's ssim
    filter, Wang et al. 2004 constants), from integral images."""
    import numpy as np

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def window_means(x):
        s = np.pad(x, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
        return (s[8:, 8:] - s[:-8, 8:] - s[8:, :-8] + s[:-8, :-8]) / 64

    ma, mb = window_means(a), window_means(b)
    va, vb = window_means(a * a) - ma * ma, window_means(b * b) - mb * mb
    cov = window_means(a * b) - ma * mb
    return float((((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))).mean())


def clip_ssim(source: Path, output: Path) -> float:
    """Frame by frame, as many as both have (the transcode keeps every frame)."""
    import statistics as stats

    pairs = list(zip(luma_frames(source), luma_frames(output)))
    return stats.fmean(ssim(a, b) for a, b in pairs)


def spread(rows, i, digits=3) -> dict:
    values = [r[i] for r in rows]
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits)}


sys.path.insert(0, str(ROOT))
from verification.media.normalise import X264_PRESET  # noqa: E402

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium")
SSIM_FLOOR = 0.97


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--throughput-uploads", type=int, default=8, help="uploads per process for the per-minute figure")
    parser.add_argument("--no-presets", action="store_true", help="skip the x264 preset comparison")
    arguments = parser.parse_args()
    runs = arguments.runs
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        names = ("recording.webm", "recording.mp4", "desktop.mp4", "desktop.mkv", "recording-noisy.webm")
        clips = {name: folder / name for name in names}
        for clip in clips.values():
            # Each in a process of its own: the noisy one changes the drawing.
            subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); "
                            f"import video_pipeline; video_pipeline.make_clip(__import__('pathlib').Path({str(clip)!r}))"],
                           cwd=ROOT, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        # Interleaved, run by run, so a busy moment of a shared machine falls on all of them alike.
        rows = {name: [] for name in ("desktop_mp4", "desktop_mkv", "phone", "vp9", "bare")}
        for _ in range(runs):
            rows["desktop_mp4"].append(measure(PIPELINE, clips["desktop.mp4"]))
            rows["desktop_mkv"].append(measure(PIPELINE, clips["desktop.mkv"]))
            rows["phone"].append(measure(PIPELINE, clips["recording.mp4"]))
            rows["vp9"].append(measure(PIPELINE, clips["recording.webm"]))
            rows["bare"].append(measure(BARE, clips["recording.webm"], X264_PRESET))
        presets = {}
        if not arguments.no_presets:
            for preset in PRESETS:
                presets[preset] = {}
                for name in ("recording.webm", "recording-noisy.webm"):
                    out = folder / f"{preset}-{name}.mp4"
                    cpu = [measure(PIPELINE, clips[name], preset, str(out)) for _ in range(max(3, runs // 2))]
                    presets[preset][name] = {"pipeline_cpu_s": spread(cpu, 0), "bytes": cpu[0][3],
                                             "ssim": round(clip_ssim(clips[name], out), 4)}
        per_minute = uploads_per_minute(clips["recording.webm"], processes=os.cpu_count() or 2,
                                        each=arguments.throughput_uploads)
        desktop_per_minute = uploads_per_minute(clips["desktop.mp4"], processes=os.cpu_count() or 2,
                                                each=arguments.throughput_uploads)
        sizes = {name: clip.stat().st_size for name, clip in clips.items()}
    med = lambda name, i=0: statistics.median(r[i] for r in rows[name])  # noqa: E731
    ratio = lambda a, b: statistics.median(x[0] / y[0] for x, y in zip(rows[a], rows[b]))  # noqa: E731
    fit = [p for p in PRESETS if p in presets and min(c["ssim"] for c in presets[p].values()) >= SSIM_FLOOR]
    result = {
        "desktop_h264": {
            "clip": f"{SECONDS} s 640x480 H.264 Constrained Baseline + Opus at the recorder's "
                    f"{VIDEO_BITS_PER_SECOND + AUDIO_BITS_PER_SECOND:,} bit/s: picture copied, sound made AAC",
            "target_cpu_s": 0.15,
            "mp4_pipeline_cpu_s": spread(rows["desktop_mp4"], 0),
            "mkv_pipeline_cpu_s": spread(rows["desktop_mkv"], 0),
            "mp4_peak_rss_mb": round(med("desktop_mp4", 2), 1),
            "upload_bytes": {"mp4": sizes["desktop.mp4"], "mkv": sizes["desktop.mkv"]},
            "normalised_bytes": rows["desktop_mp4"][0][3],
            "ratio_to_vp9_pipeline": round(ratio("desktop_mp4", "vp9"), 3),
            "ratio_to_phone_remux": round(ratio("desktop_mp4", "phone"), 2),
            "uploads_per_minute": round(desktop_per_minute, 1),
        },
        "vp9": {
            "clip": f"{SECONDS} s 480x640 WebM VP9+Opus at the recorder's bit rates: transcoded",
            "x264_preset": X264_PRESET,
            "upload_bytes": sizes["recording.webm"],
            "normalised_bytes": rows["vp9"][0][3],
            "pipeline_cpu_s": spread(rows["vp9"], 0),
            "pipeline_wall_s": round(med("vp9", 1), 3),
            "pipeline_peak_rss_mb": round(med("vp9", 2), 1),
            "bare_transcode_cpu_s": spread(rows["bare"], 0),
            "bare_transcode_peak_rss_mb": round(med("bare", 2), 1),
            "cpu_ratio_pipeline_to_bare": round(ratio("vp9", "bare"), 2),
            "uploads_per_minute": round(per_minute, 1),
        },
        "x264_presets": presets,
        "fastest_preset_with_ssim_at_least_0.97": fit[0] if fit else None,
        "phone": {
            "clip": "the same 6 s as H.264 + AAC fragmented MP4 (Safari, Android Chrome): remuxed, not re-encoded",
            "pipeline_cpu_s": spread(rows["phone"], 0),
            "peak_rss_mb": round(med("phone", 2), 1),
        },
        "cores": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "runs": runs,
        "each_run": "a fresh process: one warm-up upload, then the mean of 3",
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
