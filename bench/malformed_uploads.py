"""Benchmark 5: a corpus of malformed uploads (zero bytes, truncated, wrong
type, huge dimensions, over-long, polyglot, over-size, decompression bombs,
an hour of sound under a 3 s picture, extra tracks, …) sent to a
production-like portal (bench/portal.py: gunicorn, DEBUG off, PostgreSQL, one
task worker) as a browser would, each on a fresh session after consent and
challenge; then the same recordings again in other bytes (padded, re-muxed,
re-encoded), which must be refused as replays.

Counts what was tried, the answers, the 5xx (target: none), what the worker
made of what was accepted, and the files left behind: files no row refers to,
rows of refused uploads, and files in the web processes' temporary folder
(target: none of each). A file refused in the worker keeps its original, as
evidence for the reviewer, and nothing else.

    .venv/bin/python bench/malformed_uploads.py
"""

import collections
import json
import sys
import tempfile
import time
import wave
from pathlib import Path

import av
import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.portal import files_under, running_portal  # noqa: E402
from tests.support.media_samples import (  # noqa: E402
    damage_frames,
    make_animated_png,
    make_jpeg,
    make_jpeg_of_scans,
    make_jpeg_with_a_second_frame,
    make_png,
    make_png_declaring,
    make_png_inflating_past,
    make_video,
    make_video_with_long_audio,
    reencode,
    remux,
    with_extra_stream,
    with_frame_header,
)

MB = 1024 * 1024
OUTCOME_SECONDS = 180


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
    (field, filename, bytes). `expect`: "refused" (4xx at once), "accepted"
    (202, and the vendor's answer), "refused later" (202, then refused by the
    worker, its attempt given back)."""
    # Each control is another take of the scene: they are not replays of each other.
    good_mp4 = make_video(folder / "good.mp4", start=3.7).read_bytes()
    good_webm = make_video(folder / "good.webm", container="webm", video_codec="libvpx-vp9", audio_codec="libopus").read_bytes()
    jpeg = make_jpeg()
    png = make_png()
    gif = animated_gif(folder / "anim.gif").read_bytes()
    forged_png = bytearray(png)
    forged_png[16:24] = (40_000).to_bytes(4, "big") * 2
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
    yield "audio bomb: 3 s picture, 1 h of silent sound", video, [("video", "hour.mp4", make_video_with_long_audio(folder / "hour.mp4", seconds=3, audio_seconds=3600).read_bytes())], "refused"
    source = make_video(folder / "source.mp4", start=11)
    for kind in ("audio", "video", "subtitle", "attachment"):
        extra = with_extra_stream(source, folder / f"extra-{kind}.mkv", kind).read_bytes()
        yield f"extra stream: a second {kind}" if kind in ("audio", "video") else f"extra stream: {kind}", video, [("video", f"extra-{kind}.mkv", extra)], "refused"
    yield "data packet an hour in", video, [("video", "late.ts", with_extra_stream(source, folder / "late.ts", "data", at_seconds=3600).read_bytes())], "refused"
    # Well-formed: whether a face moves is the vendor's judgement (Juhe 280244, Tencent -5016).
    yield "control: a still picture as video", video, [("video", "still.mp4", make_video(folder / "still.mp4", moving=False, start=7).read_bytes())], "accepted"
    yield "polyglot: jpeg then mp4", video, [("video", "poly.mp4", jpeg + good_mp4)], "refused"
    yield "polyglot: html then mp4", video, [("video", "poly2.mp4", b"<html><body>hi</body></html>\n" + good_mp4)], "refused"
    yield "over the size limit (21 MB)", video, [("video", "big.mp4", good_mp4 + b"\0" * (21 * MB))], "refused"
    yield "two files", video, [("video", "a.mp4", good_mp4), ("video", "b.mp4", good_mp4)], "refused"
    yield "wrong field name", video, [("file", "a.mp4", good_mp4)], "refused"
    yield "damaged frames (VP9 in MP4, read well for its first 3 s)", video, [("video", "damaged.mp4", damage_frames(make_video(folder / "vp9.mp4", video_codec="libvpx-vp9", audio_codec="libopus", start=20), folder / "damaged.mp4").read_bytes())], "refused later"
    photo = "tencent_photo"
    yield "photo: png declaring 40000×40000", photo, [("photo", "bomb.png", bytes(forged_png))], "refused"
    yield "photo bomb: 16-bit RGBA png 7000×7000 (381 kB, 392 MB decoded)", photo, [("photo", "bomb16.png", make_png_declaring(7000, 7000, depth=16, colour=6))], "refused"
    yield "photo bomb: png inflating 200 MB past its picture", photo, [("photo", "inflate.png", make_png_inflating_past(480, 640, extra_mb=200))], "refused"
    yield "photo bomb: progressive jpeg 8000×6000 (144 MB of coefficients)", photo, [("photo", "prog.jpg", with_frame_header(jpeg, marker=0xC2, width=8000, height=6000))], "refused"
    yield "photo bomb: progressive jpeg of 5,000 scans", photo, [("photo", "scans.jpg", make_jpeg_of_scans(5000))], "refused"
    yield "photo bomb: jpeg with a second 7000×7000 frame", photo, [("photo", "second.jpg", make_jpeg_with_a_second_frame(7000, 7000))], "refused"
    yield "photo: animated png", photo, [("photo", "anim.png", make_animated_png())], "refused"
    yield "photo: truncated jpeg", photo, [("photo", "cut.jpg", jpeg[:200])], "refused"
    yield "photo: video in the photo field", photo, [("photo", "clip.jpg", good_mp4)], "refused"
    yield "control: recorder webm", video, [("video", "recording.webm", good_webm)], "accepted"
    yield "control: phone mp4", video, [("video", "phone.mp4", good_mp4)], "accepted"
    yield "control: selfie jpeg", photo, [("photo", "selfie.jpg", jpeg)], "accepted"


def replays(folder: Path):
    """The controls again, in other bytes: sent after their originals were
    answered. `expect`: "replayed" (a 409 at once, or refused by the worker)."""
    phone = folder / "good.mp4"  # the controls' files, as corpus() made them
    video = "juhe_video"
    yield "replay: the phone mp4, the same bytes", video, [("video", "phone.mp4", phone.read_bytes())], "replayed"
    yield "replay: the phone mp4 padded (1 kB appended)", video, [("video", "padded.mp4", phone.read_bytes() + b"\0" * 1024)], "replayed"
    yield "replay: the phone mp4 re-muxed into mkv", video, [("video", "remuxed.mkv", remux(phone, folder / "remuxed.mkv", "mkv").read_bytes())], "replayed"
    yield "replay: the phone mp4 re-encoded at 360×480", video, [("video", "reencoded.mp4", reencode(phone, folder / "reencoded.mp4", width=360, height=480, crf=36).read_bytes())], "replayed"
    yield "replay: the webm re-encoded as H.264 mp4", video, [("video", "webm-as-mp4.mp4", reencode(folder / "good.webm", folder / "webm-as-mp4.mp4", width=480, height=640, crf=28).read_bytes())], "replayed"
    yield "replay: the selfie as a png", "tencent_photo", [("photo", "selfie.png", make_png())], "replayed"
    yield "replay: the selfie smaller", "tencent_photo", [("photo", "small.jpg", make_jpeg(360, 480))], "replayed"
    # 13.3 s into the cartoon's scene (not 30 s: its sway comes back to within 11 bits of the start there).
    yield "control: another take, after the replays", video, [("video", "take.mp4", make_video(folder / "take.mp4", start=13.3).read_bytes())], "accepted"


def send(portal, number, method, files):
    created = portal.api("POST", "/api/v1/sessions", {"method": method, "external_ref": f"bench-malformed-{number}",
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
        return token, 0, "connection reset"  # the portal may stop reading an over-size body at once
    try:
        code = answer.json().get("error", {}).get("code", "") if answer.status_code >= 400 else ""
    except ValueError:
        code = "(not JSON)"
    return token, answer.status_code, code


def await_outcomes(portal, rows) -> None:
    """Polls the status of every accepted upload until the worker has done
    with it; records its status and the reason from the database."""
    deadline = time.monotonic() + OUTCOME_SECONDS
    waiting = [row for row in rows if row["status"] == 202]
    while waiting and time.monotonic() < deadline:
        time.sleep(0.5)
        waiting = [row for row in waiting
                   if requests.get(f"{portal.url}/v/{row['token']}/status", timeout=30).json()["status"] == "processing"]


def stored_state(portal) -> dict:
    """From the database: each bench session's status and reason, its
    submissions' states, and every file name a row refers to."""
    script = """
import json
from verification.models import SessionImage, Submission, VerificationSession
names, sessions = set(), {}
for session in VerificationSession.objects.prefetch_related("submissions"):
    names |= {session.face_image.name, session.reference_photo.name}
    sessions[session.external_ref] = {"status": session.status, "reason": session.reason,
        "submissions": [[s.state, s.refusal, bool(s.original), bool(s.normalised)] for s in session.submissions.all()]}
    for s in session.submissions.all():
        names |= {s.original.name, s.normalised.name}
names |= {image.image.name for image in SessionImage.objects.all()}
names.discard("")
print(json.dumps({"names": sorted(names), "sessions": sessions}))
"""
    return json.loads(portal.manage("shell", "-v", "0", "-c", script))


def main():
    with tempfile.TemporaryDirectory() as scratch, running_portal(workers=1, worker_threads=2) as portal:
        rows = []

        def run(items):
            batch = []
            for name, method, files, expect in items:
                token, status, code = send(portal, len(rows), method, files)
                row = {"upload": name, "expect": expect, "status": status, "code": code, "token": token,
                       "ref": f"bench-malformed-{len(rows)}"}
                rows.append(row)
                batch.append(row)
                print(f"{status:>4} {code or '-':<18} {expect:<13} {name}", flush=True)
            await_outcomes(portal, batch)

        cpu_before = portal.cpu_seconds()
        run(corpus(Path(scratch)))
        run(replays(Path(scratch)))
        cpu_after = portal.cpu_seconds()
        state = stored_state(portal)
        print("after the worker:")
        for row in rows:
            session = state["sessions"][row["ref"]]
            row["outcome"] = f"{session['status']}/{session['reason'] or '-'}"
            row["submissions"] = session["submissions"]
            if row["status"] == 202:
                print(f"{row['outcome']:<24} {row['expect']:<13} {row['upload']}", flush=True)

        def judged(row) -> str:
            """What became of an upload: refused (4xx), refused later (by the
            worker, original kept, nothing made), replayed, or accepted."""
            if row["status"] != 202:
                return "replayed" if row["code"] == "replayed" else "refused" if 400 <= row["status"] < 500 or row["status"] == 0 else "error"
            (state_, refusal, original, normalised), = row["submissions"]
            if state_ == "refused":
                kept_as_evidence = original and not normalised
                return ("replayed" if refusal == "replayed" else "refused later") if kept_as_evidence else "error"
            return "accepted"

        wrong = [row for row in rows if judged(row) != row["expect"]]
        stored = {path.relative_to(portal.media).as_posix() for path in files_under(portal.media)}
        summary = {
            "tried": len(rows),
            "malformed": sum(r["expect"] in ("refused", "refused later") for r in rows),
            "malformed_refused_4xx": sum(judged(r) == "refused" for r in rows if r["expect"] == "refused"),
            "malformed_refused_by_the_worker": sum(judged(r) == "refused later" for r in rows if r["expect"] == "refused later"),
            "replays": sum(r["expect"] == "replayed" for r in rows),
            "replays_refused": sum(judged(r) == "replayed" for r in rows if r["expect"] == "replayed"),
            "replays_refused_at_upload_409": sum(r["status"] == 409 for r in rows if r["expect"] == "replayed"),
            "controls_accepted_202": sum(judged(r) == "accepted" for r in rows if r["expect"] == "accepted"),
            "controls": sum(r["expect"] == "accepted" for r in rows),
            "not_as_expected": [r["upload"] for r in wrong],
            "server_errors_5xx": sum(r["status"] >= 500 for r in rows),
            "answers": dict(collections.Counter(str(r["status"]) for r in rows)),
            "files_stored": len(stored),
            "files_no_row_refers_to": len(stored - set(state["names"])),
            "rows_of_uploads_refused_at_once": sum(len(r["submissions"]) for r in rows if r["status"] != 202),
            "originals_kept_as_evidence_of_refusals": sum(judged(r) in ("refused later", "replayed") for r in rows
                                                         if r["status"] == 202),
            "temporary_files_left": len(files_under(portal.tmp)),
            "cpu_seconds": {role: round(cpu_after.get(role, 0) - cpu_before.get(role, 0), 1) for role in cpu_after},
        }
        print(json.dumps(summary, indent=2))
        failed = wrong or summary["server_errors_5xx"] or summary["temporary_files_left"] \
            or summary["files_no_row_refers_to"] or summary["rows_of_uploads_refused_at_once"]
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
