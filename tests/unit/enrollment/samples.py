"""Where LMS payloads live: the published samples in ../shared (when present) and credstream's own fixtures."""

import json
from pathlib import Path
from typing import Any

import pytest

from services.enrollment.formats import Format

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "lms"
SHARED_SAMPLES = ROOT.parent / "shared" / "standards" / "lms-samples"

# Sample directory -> the format its files are in.
FORMAT_OF_DIR = {
    "xapi": Format.XAPI,
    "moodle-xapi": Format.XAPI,
    "legacy-v4.7.0": Format.XAPI,
    "caliper": Format.CALIPER,
    "canvas-caliper": Format.CALIPER,
    "caliper-spec": Format.CALIPER,
    "canvas": Format.CANVAS,
    "canvas-native": Format.CANVAS,
    "lti-ags": Format.LTI_AGS,
}
# Published files that are not something an LMS sends to credstream, and why.
NOT_INBOUND = {
    "atomic_lti__canvas_lineitem__line_item_show.json": "an AGS LineItem (a platform response)",
    "atomic_lti__canvas_lineitemcontainer__line_items_list.json": "an AGS LineItem container (a platform response)",
    "atomic_lti__canvas_resultcontainer__result_list.json": "an AGS Result container (a platform response)",
    "atomic_lti__canvas_score_post_response.json": "a platform's response to a Score POST",
    "canvas__lineitem_create__example_request.json": "an AGS LineItem create request (tool -> platform)",
    "ltijs__test_2-grade_js__moodle_lineitems_response.derived.json": "an AGS LineItem container (Moodle response)",
    "ltijs__test_2-grade_js__moodle_results_response.derived.json": "AGS Results wrapped by ltijs (a response)",
    "_common__statement.json": "a fragment the Moodle test harness merges into every v5 statement",
}


def shared_samples() -> list[Path]:
    if not SHARED_SAMPLES.is_dir():
        return []
    return sorted(p for p in SHARED_SAMPLES.rglob("*.json") if p.name != "SOURCES.json")


def own_fixtures() -> list[Path]:
    return sorted(FIXTURES.rglob("*.json"))


def sample_params(paths: list[Path], base: Path) -> list[Any]:
    return [pytest.param(p, id=str(p.relative_to(base))) for p in paths]


def format_of(path: Path) -> Format:
    return FORMAT_OF_DIR[path.parent.name]


def load_payload(path: Path) -> Any:
    """The body an LMS delivers: Canvas documentation files wrap it in `examples[0].payload`; Moodle v5 test
    statements are completed with the harness's common fields (timestamp, platform, registration)."""
    payload = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(payload, dict) and "examples" in payload and "payload" in payload["examples"][0]:
        return payload["examples"][0]["payload"]
    common = path.parent / "_common__statement.json"
    if path.name.endswith(".statements.json") and common.exists():
        return [_deep_merge(json.loads(common.read_text()), s) for s in payload]
    return payload


def _deep_merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _deep_merge(base.get(key), value) if key in base else value
        return merged
    return override
