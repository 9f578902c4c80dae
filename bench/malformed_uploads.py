"""Benchmark 5: a corpus of malformed uploads (zero bytes, truncated, wrong
type, huge dimensions, over-long, polyglot, over-size, …) sent to a
production-like portal (bench/portal.py: gunicorn, DEBUG off, PostgreSQL)
as a browser would, each on a fresh session after consent and challenge.
Counts what was tried, the answers, the 5xx (target: none), and the files
left behind: in the media storage beyond the accepted controls, and in the
web processes' temporary folder (target: none).

    .venv/bin/python bench/malformed_uploads.py
"""

import collections
import json
import struct
import sys
import tempfile
import wave
from pathlib import Path

import av
import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.portal import files_under, running_portal  # noqa: E402
from tests.media_samples import make_jpeg, make_png, make_video  # noqa: E402

MB = 1024 * 1024


def silence_wav(path: Path, seconds=4, rate=16000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * rate * seconds)
    return path


def animated_gif(path: Path) -> Path:
    with av.open(str(path), "w", format="gif") as out:
        stream = out.add_stream("gif", rate=5)
        stream.width, stream.height, stream.pix_fmt = 320, 480, "rgb8"
        for n in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((480, 320, 3), n * 20, dtype=np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def corpus(folder: Path):
    """(name, method, files, expect) for each upload; `files` is a list of
    (field, filename, bytes). `expect` is "refused" or "accepted"."""
    good_mp4 = make_video(folder / "good.mp4").read_bytes()
    good_webm = make_video(folder / "good.webm", container="webm", video_codec="libvpx-vp9", audio_codec="libopus").read_bytes()
    jpeg = make_jpeg()
    png = make_png()
    gif = animated_gif(folder / "anim.gif").read_bytes()
    forged_png = bytearray(png)
    forged_png[16:24] = struct.pack(">II", 40_000, 40_000)
    video = "juhe_video"  # digits read aloud: duration, size and speech are all checked
    yield "zero bytes", video, [("video", "empty.webm", b"")], "refused"
    yield "one byte", video, [("video", "one.mp4", b"\0")], "refused"
    yield "truncated mp4 (10 %)", video, [("video", "cut.mp4", good_mp4[: len(good_mp4) // 10])], "refused"
    yield "truncated webm (30 %)", video, [("video", "cut.webm", good_webm[: len(good_webm) * 3 // 10])], "refused"
    yield "mp4 without its header", video, [("video", "tail.mp4", good_mp4[len(good_mp4) // 2:])], "refused"
    yield "jpeg named .mp4", video, [("video", "photo.mp4", jpeg)], "refused"
    yield "png in the video field", video, [("video", "photo.png", png)], "refused"
    yield "animated gif", video, [("video", "anim.gif", gif)], "refused"
    yield "pdf", video, [("video", "doc.mp4", b"%PDF-1.7\n" + b"0" * 4096)], "refused"
    yield "html with script", video, [("video", "page.mp4", b"<html><script>alert(1)</script></html>" * 50)], "refused"
    yield "random bytes (1 MB)", video, [("video", "noise.webm", bytes(range(256)) * 4096)], "refused"
    yield "audio only (wav)", video, [("video", "voice.wav", silence_wav(folder / "voice.wav").read_bytes())], "refused"
    yield "huge frame (4112×480)", video, [("video", "huge.mp4", make_video(folder / "huge.mp4", seconds=3, width=4112, height=480, fps=2).read_bytes())], "refused"
    yield "over-long (14 s)", video, [("video", "long.mp4", make_video(folder / "long.mp4", seconds=14, fps=8).read_bytes())], "refused"
    yield "too short (1 s)", video, [("video", "short.mp4", make_video(folder / "short.mp4", seconds=1).read_bytes())], "refused"
    yield "tiny frame (160×120)", video, [("video", "tiny.mp4", make_video(folder / "tiny.mp4", width=160, height=120).read_bytes())], "refused"
    yield "no audio stream", video, [("video", "mute.mp4", make_video(folder / "mute.mp4", audio=None).read_bytes())], "refused"
    yield "silent audio", video, [("video", "silent.mp4", make_video(folder / "silent.mp4", audio="silence").read_bytes())], "refused"
    # Well-formed: whether a face moves is the vendor's judgement (Juhe 280244, Tencent -5016).
    yield "control: a still picture as video", video, [("video", "still.mp4", make_video(folder / "still.mp4", moving=False).read_bytes())], "accepted"
    yield "polyglot: jpeg then mp4", video, [("video", "poly.mp4", jpeg + good_mp4)], "refused"
    yield "polyglot: html then mp4", video, [("video", "poly2.mp4", b"<html><body>hi</body></html>\n" + good_mp4)], "refused"
    yield "over the size limit (21 MB)", video, [("video", "big.mp4", good_mp4 + b"\0" * (21 * MB))], "refused"
    yield "two files", video, [("video", "a.mp4", good_mp4), ("video", "b.mp4", good_mp4)], "refused"
    yield "wrong field name", video, [("file", "a.mp4", good_mp4)], "refused"
    yield "photo: png declaring 40000×40000", "tencent_photo", [("photo", "bomb.png", bytes(forged_png))], "refused"
    yield "photo: truncated jpeg", "tencent_photo", [("photo", "cut.jpg", jpeg[:200])], "refused"
    yield "photo: video in the photo field", "tencent_photo", [("photo", "clip.jpg", good_mp4)], "refused"
    yield "control: recorder webm", video, [("video", "recording.webm", good_webm)], "accepted"
    yield "control: phone mp4", video, [("video", "phone.mp4", good_mp4)], "accepted"
    yield "control: selfie jpeg", "tencent_photo", [("photo", "selfie.jpg", jpeg)], "accepted"


def send(portal, method, files):
    created = portal.api("POST", "/api/v1/sessions", {"method": method, "external_ref": "bench-malformed",
                                                      "options": {"liveness_type": 1} if method == "juhe_video" else {}})
    created.raise_for_status()
    token = created.json()["url"].rstrip("/").rsplit("/", 1)[1]
    browser = requests.Session()
    browser.post(f"{portal.url}/v/{token}/consent", timeout=30).raise_for_status()
    browser.post(f"{portal.url}/v/{token}/challenge", timeout=30).raise_for_status()
    field = "photo" if method == "tencent_photo" else "video"
    try:
        answer = browser.post(
            f"{portal.url}/v/{token}/{field}",
            files=[(name, (filename, content, "application/octet-stream")) for name, filename, content in files],
            data={"capture": "recorder"}, timeout=120,
        )
    except requests.ConnectionError:
        return 0, "connection reset"  # the portal may stop reading an over-size body at once
    try:
        code = answer.json().get("error", {}).get("code", "") if answer.status_code >= 400 else ""
    except ValueError:
        code = "(not JSON)"
    return answer.status_code, code


def main():
    with tempfile.TemporaryDirectory() as scratch, running_portal() as portal:
        rows = []
        for name, method, files, expect in corpus(Path(scratch)):
            status, code = send(portal, method, files)
            rows.append({"upload": name, "expect": expect, "status": status, "code": code})
            print(f"{status:>4} {code or '-':<20} {expect:<9} {name}", flush=True)
        refused = [r for r in rows if r["expect"] == "refused"]
        accepted = [r for r in rows if r["expect"] == "accepted"]
        stored = files_under(portal.media)
        summary = {
            "tried": len(rows),
            "malformed": len(refused),
            "malformed_refused_4xx": sum(400 <= r["status"] < 500 or r["status"] == 0 for r in refused),
            "server_errors_5xx": sum(r["status"] >= 500 for r in rows),
            "controls_accepted_202": sum(r["status"] == 202 for r in accepted),
            "answers": dict(collections.Counter(str(r["status"]) for r in rows)),
            "files_stored": len(stored),
            "files_stored_beyond_the_controls": len(stored) - sum(r["status"] == 202 for r in accepted),
            "temporary_files_left": len(files_under(portal.tmp)),
        }
        print(json.dumps(summary, indent=2))
        wrong = [r for r in rows if (r["expect"] == "accepted") != (r["status"] == 202)]
        return 1 if wrong or summary["server_errors_5xx"] or summary["temporary_files_left"] else 0


if __name__ == "__main__":
    sys.exit(main())
