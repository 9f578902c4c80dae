"""Lighthouse (mobile profile: a mid-range phone, simulated slow 4G) on the
person's pages of a production-like portal (bench/portal.py: gunicorn,
DEBUG off, PostgreSQL), in Debian's Chromium: the landing page, the consent,
the recording page and the result after passing.

    .venv/bin/python bench/lighthouse.py [--runs 3] [--json out.json]

Needs node's npx (Lighthouse 12 comes from the npm registry on first use)
and /usr/bin/chromium. Each page is measured `--runs` times; the median
score of each category is printed, with what failed an audit."""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.portal import running_portal  # noqa: E402

LIGHTHOUSE = "lighthouse@12.8.2"
CATEGORIES = ("performance", "accessibility", "best-practices")
CHROMIUM = "/usr/bin/chromium"


def session(portal, method: str, *, locale: str = "en", passed: bool = False, consent: bool = False) -> str:
    created = portal.api("POST", "/api/v1/sessions", {"method": method, "external_ref": "lighthouse", "locale": locale})
    created.raise_for_status()
    url = created.json()["url"]
    token = url.rstrip("/").rsplit("/", 1)[1]
    if consent:
        import requests

        requests.post(f"{portal.url}/v/{token}/consent", allow_redirects=False, timeout=30).raise_for_status()
    if passed:
        # As a vendor's pass would leave it: the result page is what is measured.
        portal.manage("shell", "-c", (
            "from verification.models import VerificationSession as S; from django.utils import timezone; "
            f"S.objects.filter(link_token='{token}').update(status='passed', passed=True, reason='passed', "
            "consent_at=timezone.now(), completed_at=timezone.now())"
        ))
    return url


def lighthouse(url: str, out: Path, *, tries: int = 3) -> dict:
    """One Lighthouse run; a run whose trace Chromium lost (Lighthouse's own
    NO_NAVSTART, "please run Lighthouse again") is run again, twice at most."""
    env = {**os.environ, "CHROME_PATH": CHROMIUM}
    for attempt in range(tries):
        done = subprocess.run(
            ["npx", "-y", LIGHTHOUSE, url, "--quiet", "--output=json", f"--output-path={out}",
             f"--only-categories={','.join(CATEGORIES)}", "--form-factor=mobile", "--throttling-method=simulate",
             "--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        if done.returncode == 0:
            return json.loads(out.read_text())
        print(f"  lighthouse failed (try {attempt + 1}): {done.stderr.strip().splitlines()[-1:]}", flush=True)
    raise RuntimeError(f"Lighthouse failed {tries} times on {url}")


def failed_audits(report: dict) -> list[str]:
    """Audits of the measured categories that scored below 1 (informative ones left out)."""
    names = set()
    for category in CATEGORIES:
        for ref in report["categories"][category]["auditRefs"]:
            audit = report["audits"][ref["id"]]
            if ref.get("weight", 0) > 0 and audit.get("score") is not None and audit["score"] < 1:
                names.add(f"{category}:{ref['id']}")
    return sorted(names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()
    figures = {}
    with running_portal(workers=0) as portal, tempfile.TemporaryDirectory() as folder:
        pages = {
            "landing": portal.url + "/",
            "consent (en)": session(portal, "tencent_lip"),
            "consent (zh-hans)": session(portal, "tencent_lip", locale="zh-hans"),
            "recording": session(portal, "juhe_video", consent=True),
            "result (passed)": session(portal, "juhe_video", passed=True),
        }
        for name, url in pages.items():
            scores = {category: [] for category in CATEGORIES}
            failures = set()
            for run in range(args.runs):
                report = lighthouse(url, Path(folder) / f"{run}.json")
                for category in CATEGORIES:
                    scores[category].append(round(report["categories"][category]["score"] * 100))
                failures.update(failed_audits(report))
            figures[name] = {category: statistics.median(values) for category, values in scores.items()}
            figures[name]["failed_audits"] = sorted(failures)
            print(f"{name:20} " + "  ".join(f"{c} {figures[name][c]:>5}" for c in CATEGORIES)
                  + (f"  failed: {', '.join(sorted(failures))}" if failures else ""), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
