"""deploy/observability/: Prometheus accepts the config and the rules, each alert fires on the series meant to
trigger it (promtool test rules), and the rules and the dashboard use only metrics the services export."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

from shared import metrics

OBSERVABILITY = Path(__file__).resolve().parents[2] / "deploy" / "observability"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian package `prometheus`; .ci/run installs it)"
)
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",), "summary": ("",)}


def promtool(*args: str) -> str:
    assert PROMTOOL is not None
    done = subprocess.run([PROMTOOL, *args], cwd=OBSERVABILITY, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@needs_promtool
def test_promtool_accepts_the_rules_and_the_config() -> None:
    assert "SUCCESS" in promtool("check", "rules", "alerts.yml")
    assert "SUCCESS" in promtool("check", "config", "prometheus.yml")


@needs_promtool
def test_each_alert_fires_on_what_should_trigger_it() -> None:
    promtool("test", "rules", "alerts_test.yml")


def exported_names() -> set[str]:
    metrics.kafka_middleware("test")  # registers FastStream's metrics, as each service does
    names = {"up"}
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
    return names


def test_rules_and_dashboard_use_exported_metrics() -> None:
    exprs = [rule["expr"] for rule in _rules()]
    dashboard = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
    exprs += [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    used = {name for expr in exprs for name in re.findall(r"\b((?:credstream|faststream)_[a-z_]+|up)\b", expr)}
    assert used - exported_names() == set()
    assert {"credstream_records_total", "credstream_consumer_lag", "credstream_outbox_oldest_age_seconds"} <= used


def _rules() -> list[dict[str, str]]:
    groups = yaml.safe_load((OBSERVABILITY / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]
