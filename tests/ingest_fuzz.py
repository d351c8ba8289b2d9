"""Hostile input for every ingest endpoint (native, xAPI POST/PUT, Caliper, Canvas, LTI AGS), the Kafka inbound
decoder and the admin endpoints: arbitrary JSON, real payloads with one member replaced by something nasty, and
byte-level damage. The property: never a 5xx (never an exception out of the Kafka consumer but a dead letter).

The harness runs the real service apps on one database URL (SQLite in unit tests, PostgreSQL in integration tests:
PostgreSQL refuses NUL characters and years its UTC conversion overflows, SQLite does not) from a private event
loop, so Hypothesis can drive it from plain synchronous tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.runtime import Wiring, build_service, database_check
from shared.db.engine import create_engine, session_factory
from shared.db.migrations import upgrade
from shared.messaging.consumer import EventConsumer
from shared.messaging.memory import InMemoryBus
from shared.messaging.records import InboundRecord, PoisonRecord
from shared.settings import Settings

TENANT = "acme"
LMS = {"Authorization": "Bearer acme-key"}
ADMIN = {"Authorization": "Bearer dev-admin-token"}
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "lms"
# Examples per property; CREDSTREAM_FUZZ_EXAMPLES raises it for a campaign.
EXAMPLES = int(os.environ.get("CREDSTREAM_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Every request or record the properties sent, by endpoint (the campaign's case count).
SENT: Counter[str] = Counter()


def _sample(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def native_activity() -> dict[str, Any]:
    return {
        "tenant_id": TENANT,
        "learner_id": "l1",
        "event_id": "e1",
        "kind": "scored",
        "assessment_id": "quiz",
        "score": 7,
        "max_score": 10,
        "learner_name": "Ada",
        "occurred_at": "2026-11-29T10:00:00Z",
    }


SAMPLES: dict[str, list[Any]] = {
    "native": [native_activity(), [native_activity(), {**native_activity(), "event_id": "e2", "kind": "enrolled"}]],
    "xapi": [_sample(f"xapi/{p.name}") for p in sorted((FIXTURES / "xapi").glob("*.json"))],
    "caliper": [_sample(f"caliper/{p.name}") for p in sorted((FIXTURES / "caliper").glob("*.json"))],
    "canvas": [_sample(f"canvas/{p.name}") for p in sorted((FIXTURES / "canvas").glob("*.json"))],
    "lti-ags": [_sample(f"lti-ags/{p.name}") for p in sorted((FIXTURES / "lti-ags").glob("*.json"))],
    "achievement": [
        {
            "id": "sql",
            "name": "SQL Essentials",
            "description": "Queries data.",
            "tags": ["sql"],
            "alignment": [{"target_name": "SQL", "target_url": "https://example.org/sql", "target_type": "CFItem"}],
            "criteria": {
                "narrative": "75% on the practical.",
                "required_assessments": [{"assessment_id": "q", "min_score": 75}],
            },
        }
    ],
    "answer-key": [{"questions": [{"question_id": "q1", "type": "single_choice", "correct": "a", "points": 1}]}],
    "connection": [
        {"name": "Moodle", "source_kind": "moodle", "learner_prefix": "m:", "rate_limit": {"per_second": 5, "burst": 5}}
    ],
    "mappings": [[{"match": "prefix", "lms_id": "https://", "achievement_id": "a", "assessment_id": "q"}]],
    "revoke": [{"reason": "Issued in error"}],
}

# Values the hostile-client campaign found to break something, and their relatives.
NASTY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "a\x00b",
        "\x00",
        "l1\x1fpython",
        "x\x0by",
        "\x7f",
        "\x85",
        "\u202e",
        "e\u0301",
        "\ufeff",
        "x" * 2049,
        "x" * 300,
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "0000-01-01T00:00:00Z",
        "2026-13-45T99:00:00Z",
        "2026-11-29T10:00:00",
        "NaN",
        "Infinity",
        "-1e308",
        "1e400",
        "mailto:a\x00@b",
        "https://",
        "urn:instructure:canvas:course:\x00",
    ]
)
NASTY_NUMBERS = st.sampled_from(
    [float("nan"), float("inf"), -float("inf"), 1e308, -1e308, 2**53 + 1, 2**64, -(2**63), 0, -1, 1e-320]
)
JSON_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40) | NASTY_TEXT | NASTY_NUMBERS
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12) | NASTY_TEXT, children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, member in value.items():
            found.extend(_paths(member, (*prefix, key)))
    elif isinstance(value, list):
        for index, member in enumerate(value):
            found.extend(_paths(member, (*prefix, index)))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any, *, delete: bool) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        if delete and not rest:
            copy.pop(head, None)
        else:
            copy[head] = _replace(value[head], rest, new, delete=delete)
        return copy
    copy_list = list(value)
    copy_list[head] = _replace(value[head], rest, new, delete=delete)
    return copy_list


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> Any:
    """A real payload with one member replaced (or removed), or a different nesting, or arbitrary JSON."""
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(JSON_VALUES)
    payload = draw(st.sampled_from(SAMPLES[kind]))
    path = draw(st.sampled_from(_paths(payload)))
    if choice == 1:
        return _replace(payload, path, [payload], delete=False)  # one level deeper
    return _replace(payload, path, draw(JSON_VALUES | NASTY_TEXT | NASTY_NUMBERS), delete=choice == 2)


@st.composite
def body_bytes(draw: st.DrawFn, kind: str) -> bytes:
    """The payload as bytes: usually JSON (lone surrogates escaped, NaN as Python writes it), sometimes damaged."""
    payload = draw(mutated(kind))
    text = json.dumps(payload, ensure_ascii=draw(st.booleans()))
    data = text.encode("utf-8", "surrogatepass")
    how = draw(st.integers(0, 9))
    if how == 0 and data:
        cut = draw(st.integers(0, len(data) - 1))
        return data[:cut] + draw(st.binary(max_size=4)) + data[cut + 1 :]
    if how == 1:
        depth = draw(st.sampled_from([65, 1_000, 100_000]))
        return b"[" * depth + data + b"]" * depth
    return data


@dataclass(repr=False)
class IngestTarget:
    """The enrollment, assessment and issuer apps on one database, and the enrollment Kafka consumer."""

    database_url: str
    data_dir: Path
    runner: asyncio.Runner = field(default_factory=asyncio.Runner)
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    inbound: EventConsumer[Any] | None = None
    connection_id: str = ""

    def __repr__(self) -> str:
        return f"IngestTarget({self.database_url!r})"

    def start(self) -> None:
        self.runner.run(self._start())

    async def _start(self) -> None:
        config = Settings(
            _env_file=None, DATABASE_URL=self.database_url, CREDSTREAM_LMS_API_KEYS="demo:dev-lms-key,acme:acme-key"
        )
        for name in ("enrollment", "assessment", "issuer"):
            url = self.database_url.replace("{service}", name)
            engine = create_engine(url)
            await upgrade(engine, name)
            parts = build_service(
                name, Wiring(config, session_factory(engine), InMemoryBus(), [database_check(engine)])
            )
            for hook in parts.on_start:
                await hook()
            if name == "enrollment":
                self.inbound = parts.consumers[0]
            # An unhandled exception (a 500) surfaces in the test with its traceback.
            transport = httpx.ASGITransport(app=parts.http)
            self.clients[name] = httpx.AsyncClient(transport=transport, base_url=f"http://{name}")
        enrollment = self.clients["enrollment"]
        listed = await enrollment.get(f"/v1/tenants/{TENANT}/lms-connections", headers=ADMIN)
        self.connection_id = listed.json()[0]["id"]
        # Map every http(s) and urn id, so fuzzed observations also go the whole way (not only to "unmapped").
        rules = [
            {"match": "prefix", "lms_id": prefix, "achievement_id": "a-{suffix}", "assessment_id": "q-{suffix}"}
            for prefix in ("http", "urn", "1", "2")
        ]
        mapped = await enrollment.put(
            f"/v1/tenants/{TENANT}/lms-connections/{self.connection_id}/mappings", json=rules, headers=ADMIN
        )
        assert mapped.status_code == 200, mapped.text

    def request(self, service: str, method: str, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        SENT[f"{method} {service}{path.split('?')[0][:40]}"] += 1
        return self.runner.run(
            self.clients[service].request(
                method, path, content=body, headers={"Content-Type": "application/json", **headers}
            )
        )

    def consume(self, record: InboundRecord) -> None:
        """Hand a record to the enrollment consumer as the Kafka transport would: it is processed or dead-lettered
        (PoisonRecord) for a reason found before the database is asked; anything else escaping would stall the
        partition or be misread as an outage, and a database error would be an opaque reason after 3 retries."""
        SENT["kafka lms-inbound"] += 1
        assert self.inbound is not None
        try:
            self.runner.run(self.inbound.handle_record(record))
        except PoisonRecord as poison:
            assert not poison.reason.startswith("handler failed"), poison.reason

    def stop(self) -> None:
        for client in self.clients.values():
            self.runner.run(client.aclose())
        self.runner.close()


LMS_ENDPOINTS = {
    "native": ("POST", "/v1/activities"),
    "xapi": ("POST", "/xapi/statements"),
    "caliper": ("POST", "/caliper"),
    "canvas": ("POST", "/canvas/live-events"),
}
XAPI_HEADERS = {**LMS, "X-Experience-API-Version": "1.0.3"}


def lms_headers(kind: str) -> dict[str, str]:
    return XAPI_HEADERS if kind == "xapi" else LMS


def ags_path(lineitem: str) -> str:
    return f"/lti/ags/{quote(lineitem, safe='/:')}/scores"


def xapi_put_path(statement_id: str) -> str:
    return f"/xapi/statements?statementId={quote(statement_id, safe='')}"


def new_statement_id() -> str:
    return str(uuid.uuid4())


# The properties. Test modules import them and provide a module-scoped `fuzz_target` (SQLite or PostgreSQL).

ADMIN_CASES = ("connection", "mappings", "achievement", "answer-key", "revoke")


def _admin_request(target: IngestTarget, kind: str, name: str) -> tuple[str, str, str]:
    tenants = f"/v1/tenants/{quote(TENANT)}"
    return {
        "connection": ("enrollment", "POST", f"{tenants}/lms-connections"),
        "mappings": ("enrollment", "PUT", f"{tenants}/lms-connections/{target.connection_id}/mappings"),
        "achievement": ("assessment", "PUT", f"{tenants}/achievements/{quote(name, safe='')}"),
        "answer-key": ("assessment", "PUT", f"{tenants}/assessments/{quote(name, safe='')}/answer-key"),
        "revoke": ("issuer", "POST", f"/v1/credentials/{quote(name, safe='')}/revoke"),
    }[kind]


@FUZZ
@given(kind=st.sampled_from(sorted(LMS_ENDPOINTS)), data=st.data())
def test_lms_endpoints_never_answer_5xx(fuzz_target: IngestTarget, kind: str, data: st.DataObject) -> None:
    method, path = LMS_ENDPOINTS[kind]
    response = fuzz_target.request("enrollment", method, path, data.draw(body_bytes(kind)), lms_headers(kind))
    assert response.status_code < 500, response.text


@FUZZ
@given(statement_id=st.text(max_size=40) | NASTY_TEXT | st.builds(new_statement_id), data=st.data())
def test_xapi_put_never_answers_5xx(fuzz_target: IngestTarget, statement_id: str, data: st.DataObject) -> None:
    body = data.draw(body_bytes("xapi"))
    response = fuzz_target.request("enrollment", "PUT", xapi_put_path(statement_id), body, XAPI_HEADERS)
    assert response.status_code < 500, response.text


@FUZZ
@given(lineitem=st.text(min_size=1, max_size=60) | NASTY_TEXT.filter(bool), data=st.data())
def test_lti_ags_scores_never_answer_5xx(fuzz_target: IngestTarget, lineitem: str, data: st.DataObject) -> None:
    headers = {**LMS, "Content-Type": "application/vnd.ims.lis.v1.score+json"}
    response = fuzz_target.request("enrollment", "POST", ags_path(lineitem), data.draw(body_bytes("lti-ags")), headers)
    assert response.status_code < 500, response.text


@FUZZ
@given(
    kind=st.sampled_from(ADMIN_CASES), name=st.text(min_size=1, max_size=30) | NASTY_TEXT.filter(bool), data=st.data()
)
def test_admin_endpoints_never_answer_5xx(fuzz_target: IngestTarget, kind: str, name: str, data: st.DataObject) -> None:
    service, method, path = _admin_request(fuzz_target, kind, name)
    response = fuzz_target.request(service, method, path, data.draw(body_bytes(kind)), ADMIN)
    assert response.status_code < 500, response.text


@FUZZ
@given(
    endpoint=st.sampled_from([*LMS_ENDPOINTS, "lti-ags", *ADMIN_CASES]),
    wrong=st.sampled_from([{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic !!"}, {"X-API-Key": ""}]),
    data=st.data(),
)
def test_credentials_are_checked_before_the_body(
    fuzz_target: IngestTarget, endpoint: str, wrong: dict[str, str], data: st.DataObject
) -> None:
    if endpoint in LMS_ENDPOINTS:
        service, (method, path) = "enrollment", LMS_ENDPOINTS[endpoint]
        body = data.draw(body_bytes(endpoint))
    elif endpoint == "lti-ags":
        service, method, path = "enrollment", "POST", ags_path("li-1")
        body = data.draw(body_bytes(endpoint))
    else:
        service, method, path = _admin_request(fuzz_target, endpoint, "x1")
        body = data.draw(body_bytes(endpoint))
    headers = {**wrong, "X-Experience-API-Version": "1.0.3"}
    response = fuzz_target.request(service, method, path, body, headers)
    assert response.status_code == 401, response.text


INBOUND_FORMATS = {
    "native": "io.credstream.lms.activity.v1",
    "xapi": "io.credstream.lms.xapi.v1",
    "caliper": "io.credstream.lms.caliper.v1",
    "canvas": "io.credstream.lms.canvas.v1",
    "lti-ags": "io.credstream.lms.lti-ags-score.v1",
}


@FUZZ
@given(kind=st.sampled_from(sorted(INBOUND_FORMATS)), data=st.data())
def test_kafka_inbound_records_are_processed_or_dead_lettered(
    fuzz_target: IngestTarget, kind: str, data: st.DataObject
) -> None:
    headers = {
        "ce_specversion": "1.0",
        "ce_id": data.draw(st.builds(new_statement_id) | st.text(max_size=20) | NASTY_TEXT),
        "ce_source": data.draw(st.just("lms://fuzz") | NASTY_TEXT),
        "ce_type": INBOUND_FORMATS[kind],
        "credstream_connection": fuzz_target.connection_id,
        "ce_subject": data.draw(st.just("https://lms.example/lineitems/1") | NASTY_TEXT),
    }
    dropped = data.draw(st.sets(st.sampled_from(sorted(headers)), max_size=2))
    record = InboundRecord(
        topic="credstream.lms-inbound.v1",
        key=f"{TENANT}:l1",
        value=data.draw(body_bytes(kind)),
        headers={k: v for k, v in headers.items() if k not in dropped},
    )
    fuzz_target.consume(record)
