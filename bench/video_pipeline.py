"""The server side of a recorded upload, for a 6 s clip as desktop Chromium's
MediaRecorder makes it (WebM, VP9 + Opus, 480x640): CPU time and peak memory
of probe + checks + speech level + normalise to H.264/AAC MP4 + the streamed
base64 form body Juhe gets, beside a bare PyAV transcode with the same
encoder settings. Then the same for the clip a phone's MediaRecorder makes
(H.264 + AAC MP4), which is remuxed instead.

    .venv/bin/python bench/video_pipeline.py [--runs 5]

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


def make_clip(path: Path) -> None:
    """A 6 s 480x640 clip at the recorder's bitrates: `recording.webm` as
    desktop Chromium's MediaRecorder makes it (VP9 + Opus), `recording.mp4`
    as Safari's and Android Chrome's do (H.264 + AAC, fragmented MP4)."""
    sys.path.insert(0, str(ROOT))
    from tests import media_samples

    # Encode at the recorder's bitrate, so the file is as large as a real upload.
    media_samples.VIDEO_OPTIONS["libvpx-vp9"] = {
        "deadline": "realtime", "cpu-used": "8", "b:v": str(VIDEO_BITS_PER_SECOND), "row-mt": "1",
    }
    media_samples.VIDEO_OPTIONS["libx264"] = {"preset": "veryfast", "b": str(VIDEO_BITS_PER_SECOND), "tune": "zerolatency"}
    if path.suffix == ".mp4":
        media_samples.make_video(path, seconds=SECONDS, width=480, height=640, fps=30, fragmented=True)
        return
    media_samples.make_video(
        path, seconds=SECONDS, width=480, height=640, fps=30, container="webm",
        video_codec="libvpx-vp9", audio_codec="libopus",
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
start = time.process_time(); wall = time.perf_counter()
for _ in range(int(sys.argv[2])):
    facts = media.probe_video(clip, measure_speech=True)
    media.check_video(facts, needs_speech=True)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.mp4"
        media.normalise_video(clip, out, facts=facts, max_bytes=juhe.VIDEO_MAX_BYTES)
        size = out.stat().st_size
        with tempfile.TemporaryFile() as body:
            juhe._write_form(body, {"key": "k"}, video_field="videoBase64", video=out, prefix="")
print(time.process_time() - start, time.perf_counter() - wall, int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]), size)
"""

BARE = """
import sys, tempfile, time
from fractions import Fraction
from pathlib import Path
import av
from av.video.frame import PictureType
clip = Path(sys.argv[1])
start = time.process_time(); wall = time.perf_counter()
with tempfile.TemporaryDirectory() as folder:
    with av.open(str(clip)) as src, av.open(str(Path(folder) / "o.mp4"), "w", format="mp4", options={"movflags": "+faststart"}) as dst:
        vin = src.streams.video[0]; vin.thread_type = "AUTO"; ain = src.streams.audio[0]
        v = dst.add_stream("libx264", rate=30); v.width, v.height, v.pix_fmt = 480, 640, "yuv420p"
        v.codec_context.time_base = Fraction(1, 1000); v.thread_type = "AUTO"
        v.options = {"preset": "veryfast", "crf": "26", "maxrate": "7000000", "bufsize": "14000000"}
        a = dst.add_stream("aac", rate=48000, layout="mono"); a.bit_rate = 64000
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
print(time.process_time() - start, time.perf_counter() - wall, int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]), 0)
"""


def measure(script: str, clip: Path) -> tuple[float, float, float]:
    done = subprocess.run([sys.executable, "-c", script, str(clip), "1"], cwd=ROOT, capture_output=True, text=True,
                          check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
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


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--throughput-uploads", type=int, default=8, help="uploads per process for the per-minute figure")
    arguments = parser.parse_args()
    runs = arguments.runs
    with tempfile.TemporaryDirectory() as folder:
        clip = Path(folder) / "recording.webm"
        make_clip(clip)
        pipeline = [measure(PIPELINE, clip) for _ in range(runs)]
        bare = [measure(BARE, clip) for _ in range(runs)]
        per_minute = uploads_per_minute(clip, processes=os.cpu_count() or 2, each=arguments.throughput_uploads)
        upload = clip.stat().st_size
        phone_clip = Path(folder) / "recording.mp4"
        make_clip(phone_clip)
        phone = [measure(PIPELINE, phone_clip) for _ in range(runs)]
        phone_per_minute = uploads_per_minute(phone_clip, processes=os.cpu_count() or 2,
                                              each=arguments.throughput_uploads)
    med = lambda rows, i: statistics.median(r[i] for r in rows)  # noqa: E731
    result = {
        "clip": f"{SECONDS} s 480x640 WebM VP9+Opus at the recorder's {VIDEO_BITS_PER_SECOND + AUDIO_BITS_PER_SECOND:,} bit/s",
        "upload_bytes_expected": (VIDEO_BITS_PER_SECOND + AUDIO_BITS_PER_SECOND) * SECONDS // 8,
        "upload_bytes_synthetic_clip": upload,
        "normalised_bytes": pipeline[0][3],
        "pipeline_cpu_s": round(med(pipeline, 0), 3),
        "pipeline_wall_s": round(med(pipeline, 1), 3),
        "pipeline_peak_rss_mb": round(med(pipeline, 2), 1),
        "bare_transcode_cpu_s": round(med(bare, 0), 3),
        "bare_transcode_peak_rss_mb": round(med(bare, 2), 1),
        "cpu_ratio_pipeline_to_bare": round(med(pipeline, 0) / med(bare, 0), 2),
        "uploads_per_minute": round(per_minute, 1),
        "phone_clip": "the same 6 s as H.264 + AAC fragmented MP4 (Safari, Android Chrome): remuxed, not re-encoded",
        "phone_pipeline_cpu_s": round(med(phone, 0), 3),
        "phone_pipeline_peak_rss_mb": round(med(phone, 2), 1),
        "phone_uploads_per_minute": round(phone_per_minute, 1),
        "cores": os.cpu_count(),
        "runs": runs,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
