"""The dashboard's queries on real metrics, as a picture: Grafana is not packaged for Debian and no registry image
can be pulled here, so this renders every query of grafana-dashboard.json in Prometheus's own UI instead.

    . .cache/local/infra.env            # Kafka + PostgreSQL (deploy/local/infra.sh up)
    .venv/bin/python deploy/observability/screenshot.py [--out docs/images/prometheus-dashboard.png]

It starts the four services as processes (as the e2e tests do), Debian's `prometheus` scraping them every 2 s with
alerts.yml loaded, drives them with `credstream load` (100 badges/s for 30 s, then a burst of 6,000 learners) and
a few refused verifications, then screenshots the Prometheus graph page (headless Debian chromium), six panels
at a time, and stacks the pictures. Needs the `prometheus` and `chromium` packages and Pillow.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.e2e.processes import ADMIN_TOKEN, LMS_KEY, SERVICES, TENANT, ServiceProcesses, free_port  # noqa: E402
from tests.helpers import skip_topic_history  # noqa: E402

HERE = Path(__file__).resolve().parent
PANELS_PER_SHOT = 6


def dashboard_queries() -> list[str]:
    """Every target of the dashboard, with its `$job` variable (all jobs) and `$__rate_interval` (30 s) filled in."""
    dashboard = json.loads((HERE / "grafana-dashboard.json").read_text())
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace('{job=~"$job"}', "").replace('job=~"$job", ', "")
            queries.append(expr.replace(', job=~"$job"', "").replace("$__rate_interval", "30s"))
    return queries


def graph_url(prometheus: str, queries: list[str], end: datetime) -> str:
    params: dict[str, str] = {}
    for n, expr in enumerate(queries):
        params |= {f"g{n}.expr": expr, f"g{n}.tab": "0", f"g{n}.range_input": "2m", f"g{n}.stacked": "0"}
        params[f"g{n}.end_input"] = end.strftime("%Y-%m-%d %H:%M:%S")
    # %20, not '+': the UI does not read '+' as a space.
    return f"{prometheus}/graph?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


def screenshot(prometheus: str, queries: list[str], end: datetime, out: Path, scratch: Path) -> None:
    from PIL import Image

    shots = []
    for first in range(0, len(queries), PANELS_PER_SHOT):
        chunk = queries[first : first + PANELS_PER_SHOT]
        path = scratch / f"panels-{first}.png"
        subprocess.run(
            [
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--window-size=1200,{len(chunk) * 700 + 80}",
                "--virtual-time-budget=20000",
                f"--screenshot={path}",
                graph_url(prometheus, chunk, end),
            ],
            capture_output=True,
            check=True,
            timeout=120,
        )
        shots.append(Image.open(path))
    picture = Image.new("RGB", (max(s.width for s in shots), sum(s.height for s in shots)), "white")
    top = 0
    for shot in shots:
        picture.paste(shot, (0, top))
        top += shot.height
    picture = picture.resize((picture.width * 3 // 4, picture.height * 3 // 4)).quantize(colors=64)
    out.parent.mkdir(parents=True, exist_ok=True)
    picture.save(out, optimize=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "prometheus-dashboard.png")
    args = parser.parse_args()
    kafka, database_url = os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["DATABASE_URL"]
    scratch = Path(tempfile.mkdtemp(prefix="credstream-dashboard-"))
    database = f"dashboard_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", database_url.replace("+asyncpg", ""), "-c", f'CREATE DATABASE "{database}"'], check=True)
    services = ServiceProcesses(kafka, database_url.rsplit("/", 1)[0] + f"/{database}", scratch, "dash-" + database)
    asyncio.run(skip_topic_history(kafka, services.group))
    for name in SERVICES:
        services.start(name)
    prometheus_process = None
    try:
        while not all(_ready(services.url(name)) for name in SERVICES):
            time.sleep(0.5)
        config = {
            "global": {"scrape_interval": "2s", "evaluation_interval": "2s"},
            "rule_files": [str(HERE / "alerts.yml")],
            "scrape_configs": [
                {"job_name": name, "static_configs": [{"targets": [f"127.0.0.1:{services.ports[name]}"]}]}
                for name in SERVICES
            ],
        }
        (scratch / "prometheus.yml").write_text(yaml.safe_dump(config))
        prometheus = f"http://127.0.0.1:{free_port()}"
        prometheus_process = subprocess.Popen(
            [
                shutil.which("prometheus") or "prometheus",
                f"--config.file={scratch / 'prometheus.yml'}",
                f"--storage.tsdb.path={scratch / 'tsdb'}",
                f"--web.listen-address={prometheus.removeprefix('http://')}",
            ],
            stdout=(scratch / "prometheus.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        time.sleep(6)
        load = [sys.executable, "-m", "services.cli", "load", "--no-cpu", "--kafka", kafka]
        load += ["--enrollment-url", services.url("enrollment"), "--assessment-url", services.url("assessment")]
        load += ["--group-prefix", services.group, "--lms-key", f"{TENANT}:{LMS_KEY}"]
        env = {**os.environ, "CREDSTREAM_ADMIN_TOKEN": ADMIN_TOKEN}
        subprocess.run([*load, "--rate", "100", "--learners", "3000"], env=env, check=True, cwd=ROOT)
        subprocess.run([*load, "--burst", "--learners", "6000"], env=env, check=True, cwd=ROOT)
        with httpx.Client(timeout=30) as client:  # refusals for the verification panels
            for _ in range(40):
                client.post(services.url("verifier") + "/verify", content=b"not json")
        time.sleep(10)
        screenshot(prometheus, dashboard_queries(), datetime.now(UTC), args.out, scratch)
        print(f"wrote {args.out}")
    finally:
        if prometheus_process is not None:
            prometheus_process.terminate()
            prometheus_process.wait()
        services.stop_all()
    return 0


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    sys.exit(main())
