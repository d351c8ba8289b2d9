"""docker-compose.yml against deploy/docker/Dockerfile, without a container engine (`make compose-test` runs them):
every service image is a stage of the one Dockerfile, on the port that stage declares, and the local override
changes nothing a user of the published file would get."""

import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("enrollment", "assessment", "issuer", "verifier", "webhooks")


def compose(path: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO / path).read_text())
    return document


def dockerfile_stages() -> dict[str, str]:
    """Stage name -> its HTTP_PORT (empty when it sets none)."""
    stages: dict[str, str] = {}
    current = ""
    for line in (REPO / "deploy/docker/Dockerfile").read_text().splitlines():
        if found := re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line, re.IGNORECASE):
            current = found.group(1)
            stages[current] = ""
        elif found := re.match(r"ENV\s+HTTP_PORT=(\d+)", line):
            stages[current] = found.group(1)
    return stages


def test_every_service_is_a_stage_of_the_one_dockerfile_on_its_port() -> None:
    services = compose("docker-compose.yml")["services"]
    stages = dockerfile_stages()
    for name in (*SERVICES, "init"):
        build = services[name]["build"]
        assert (build["context"], build["dockerfile"]) == (".", "deploy/docker/Dockerfile"), name
        assert build["target"] in stages, name
        assert "PYTHON_IMAGE" in build["args"], name
    for name in SERVICES:
        assert str(services[name]["environment"]["HTTP_PORT"]) == stages[name], name


def test_published_compose_keeps_upstream_images() -> None:
    services = compose("docker-compose.yml")["services"]
    assert services["kafka"]["image"].endswith(":-apache/kafka:4.4.0}")
    assert services["postgres"]["image"].endswith(":-postgres:15}")
    assert services["enrollment"]["build"]["args"]["PYTHON_IMAGE"] == "${PYTHON_IMAGE:-python:3.11-slim}"


def test_local_override_only_touches_known_services() -> None:
    published = compose("docker-compose.yml")["services"]
    override = compose("deploy/compose-test/compose.local.yml")["services"]
    assert set(override) <= set(published)
    for name, service in override.items():
        assert set(service) <= {"restart", "environment"}, name
