"""Traces: W3C trace context in `ce_traceparent` / `ce_tracestate`, consumer spans that continue it, events staged
while a record is handled carrying it on (through the outbox, as stored), log lines naming the trace, and tracing
off by default (no SDK, no exporter, the incoming trace context passed on as it came)."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from sqlalchemy import select

from services.enrollment.adapters.tables import EnrollmentOutbox
from services.enrollment.inbound import decode_inbound
from shared import tracing
from shared.contracts import CloudEvent, EnrollmentRecorded, LmsActivity, Topic
from shared.db.engine import transaction
from shared.db.outbox import OutboxRelay, stage_event
from shared.http import create_app
from shared.logs import _add_trace_ids
from shared.messaging.batch import BatchConsumer
from shared.messaging.records import InboundRecord, OutboundRecord, event_record
from tests.tracing_support import collected_spans, trace_id
from tests.unit.test_batch_consumer import consumer as batch_consumer
from tests.unit.test_batch_consumer import sessions  # noqa: F401 (fixture)
from tests.unit.test_consumer_pipeline import consumer as event_consumer

TRACE = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE}-b7ad6b7169203331-01"
ROOT = Path(__file__).resolve().parents[2]


def activity(learner: str = "l1", event_id: str = "e1") -> LmsActivity:
    return LmsActivity(
        tenant_id="acme",
        learner_id=learner,
        event_id=event_id,
        kind="enrolled",
        achievement_id="a",
        occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


def ce(traceparent: str | None = None, tracestate: str | None = None) -> CloudEvent:
    return CloudEvent(source="lms://test", type=LmsActivity.CE_TYPE, traceparent=traceparent, tracestate=tracestate)


def test_trace_context_travels_as_cloudevents_extension_headers() -> None:
    headers = ce(TRACEPARENT, "vendor=abc").to_header_dict()
    assert headers["ce_traceparent"] == TRACEPARENT
    assert headers["ce_tracestate"] == "vendor=abc"
    back = CloudEvent.from_headers(headers)
    assert (back.traceparent, back.tracestate) == (TRACEPARENT, "vendor=abc")
    assert "ce_traceparent" not in ce().to_header_dict()


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "garbage",
        f"00-{'0' * 32}-b7ad6b7169203331-01",  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01",  # all-zero parent id
        f"ff-{TRACE}-b7ad6b7169203331-01",  # forbidden version
        f"00-{TRACE.upper()}-b7ad6b7169203331-01",  # upper case
        f"00-{TRACE}-b7ad6b7169203331-01-extra",  # version 00 has four fields
        f"00-{TRACE}-b7ad6b7169203331-01\n",
    ],
)
def test_a_malformed_traceparent_is_dropped_not_refused(bad: str) -> None:
    headers = {**ce().to_header_dict(), "ce_traceparent": bad, "ce_tracestate": "x=1"}
    event = CloudEvent.from_headers(headers)
    assert event.traceparent is None
    assert "ce_traceparent" not in event.to_header_dict() and "ce_tracestate" not in event.to_header_dict()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(traceparent=st.text(max_size=80), tracestate=st.text(max_size=600) | st.none())
def test_any_trace_header_from_a_producer_is_read_without_failing(traceparent: str, tracestate: str | None) -> None:
    headers = {**ce().to_header_dict(), "ce_traceparent": traceparent}
    if tracestate is not None:
        headers["ce_tracestate"] = tracestate
    event = CloudEvent.from_headers(headers)  # never raises because of these two headers
    if event.traceparent is not None:
        assert event.traceparent == traceparent and len(traceparent.split("-")) >= 4
    tracing.parent_context(event)  # neither does the propagator
    with collected_spans() as spans, tracing.consuming("c", "t", [("k", event)]):
        pass
    (span,) = spans.get_finished_spans()
    if event.traceparent is None:
        assert span.parent is None  # a new trace
    else:
        assert trace_id(span) == traceparent.split("-")[1]


def inbound(event: LmsActivity, attributes: CloudEvent) -> InboundRecord:
    out = event_record(event, attributes)
    return InboundRecord(out.topic, out.key, out.value, dict(out.headers), 0, 0)


def recorded(event: LmsActivity) -> EnrollmentRecorded:
    return EnrollmentRecorded.model_validate(
        {**event.model_dump(), "source": "lms://test", "source_event_id": event.event_id}
    )


def staging_consumer(factory, staged: list[OutboundRecord]) -> BatchConsumer[LmsActivity]:  # type: ignore[no-untyped-def]
    """The enrollment batch consumer with a handler that builds the record of one event per activity."""

    async def handler(session, items) -> None:  # type: ignore[no-untyped-def]
        for event, _ce in items:
            staged.append(event_record(recorded(event), CloudEvent(source="svc", type=EnrollmentRecorded.CE_TYPE)))

    return batch_consumer(factory, handler)


async def test_a_batch_continues_each_records_trace_and_what_it_stages_carries_it_on(sessions) -> None:  # type: ignore[no-untyped-def]  # noqa: F811 (fixture)
    other = "4bf92f3577b34da6a3ce929d0e0e4736"
    staged: list[OutboundRecord] = []

    consumer = staging_consumer(sessions, staged)
    records = [
        inbound(activity("l1", "e1"), ce(TRACEPARENT)),
        inbound(activity("l2", "e2"), ce(f"00-{other}-00f067aa0ba902b7-01")),
        inbound(activity("l3", "e3"), ce("not a traceparent")),
    ]
    with collected_spans() as spans:
        assert await consumer.handle_records(records) == []
    finished = spans.get_finished_spans()
    span_of = {s.attributes["messaging.message.id"]: s for s in finished if s.name == f"{Topic.LMS_INBOUND} process"}
    per_record = [span_of[r.headers["ce_id"]] for r in records]
    (batch,) = [s for s in finished if s.name == "enrollment batch"]
    assert [trace_id(s) for s in per_record[:2]] == [TRACE, other]
    assert per_record[2].parent is None  # the malformed one starts a trace of its own
    assert len(batch.links) == 3
    by_key = {r.key: r.headers["ce_traceparent"] for r in staged}
    for record, span in zip(records, per_record, strict=True):
        assert span.context is not None
        assert by_key[record.key].split("-")[1:3] == [trace_id(span), format(span.context.span_id, "016x")]


async def test_a_dead_lettered_records_span_says_so(sessions) -> None:  # type: ignore[no-untyped-def]  # noqa: F811 (fixture)
    async def handler(session, items) -> None:  # type: ignore[no-untyped-def]
        if any(event.learner_id == "bad" for event, _ce in items):
            raise ValueError("cannot")

    consumer = batch_consumer(sessions, handler)
    records = [inbound(activity("l1", "e1"), ce(TRACEPARENT)), inbound(activity("bad", "e2"), ce())]
    with collected_spans() as spans:
        dead = await consumer.handle_records(records)
    assert [d.record for d in dead] == [records[1]]
    status = {
        s.attributes["messaging.message.id"]: s.status.status_code
        for s in spans.get_finished_spans()
        if s.kind is trace.SpanKind.CONSUMER
    }
    assert status == {
        records[0].headers["ce_id"]: trace.StatusCode.UNSET,
        records[1].headers["ce_id"]: trace.StatusCode.ERROR,
    }


async def test_a_single_event_consumer_span_is_current_while_its_handler_runs(sessions) -> None:  # type: ignore[no-untyped-def]  # noqa: F811 (fixture)
    seen: list[str | None] = []

    async def handler(session, event, attributes) -> None:  # type: ignore[no-untyped-def]
        ids = tracing.current_ids()
        seen.append(ids[0] if ids else None)

    consumer = event_consumer(sessions, handler)
    with collected_spans() as spans:
        await consumer.process(activity(), ce(TRACEPARENT))
    assert seen == [TRACE]
    (span,) = spans.get_finished_spans()
    assert span.kind is trace.SpanKind.CONSUMER and span.attributes["messaging.destination.name"] == str(
        Topic.LMS_INBOUND
    )


class Published:
    def __init__(self) -> None:
        self.records: list[OutboundRecord] = []

    async def publish(self, records) -> None:  # type: ignore[no-untyped-def]
        self.records.extend(records)


async def test_the_outbox_stores_the_trace_context_and_the_relay_publishes_it_not_its_own(sessions) -> None:  # type: ignore[no-untyped-def]  # noqa: F811 (fixture)
    published = Published()
    relay = OutboxRelay(sessions, EnrollmentOutbox, published)
    with collected_spans():
        tracer = trace.get_tracer("test")
        with tracer.start_as_current_span("POST /v1/activities") as request:
            async with transaction(sessions) as session:
                stage_event(session, EnrollmentOutbox, recorded(activity()), ce())
        async with sessions() as session:
            (row,) = (await session.execute(select(EnrollmentOutbox))).scalars().all()
        stored = json.loads(row.headers)["ce_traceparent"]
        assert stored.split("-")[1:3] == [
            format(request.get_span_context().trace_id, "032x"),
            format(request.get_span_context().span_id, "016x"),
        ]
        with tracer.start_as_current_span("relay pass"):  # the relay runs later, in a trace of its own
            await relay.relay_once()
    assert [r.headers["ce_traceparent"] for r in published.records] == [stored]


async def test_with_tracing_off_no_span_is_made_and_the_incoming_context_is_passed_on(sessions) -> None:  # type: ignore[no-untyped-def]  # noqa: F811 (fixture)
    assert not tracing.enabled()
    staged: list[OutboundRecord] = []

    consumer = staging_consumer(sessions, staged)
    await consumer.handle_records(
        [inbound(activity("l1", "e1"), ce(TRACEPARENT, "v=1")), inbound(activity("l2", "e2"), ce())]
    )
    assert staged[0].headers["ce_traceparent"] == TRACEPARENT and staged[0].headers["ce_tracestate"] == "v=1"
    assert "ce_traceparent" not in staged[1].headers
    assert tracing.current_ids() is None


def test_log_lines_name_the_active_span() -> None:
    assert _add_trace_ids(None, "info", {"event": "x"}) == {"event": "x"}
    with collected_spans(), trace.get_tracer("test").start_as_current_span("work") as span:
        line = _add_trace_ids(None, "info", {"event": "x"})
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert line["span_id"] == format(span.get_span_context().span_id, "016x")


@pytest.mark.parametrize(
    ("environ", "exporter"),
    [
        ({}, None),
        ({"OTEL_SERVICE_NAME": "x"}, None),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, "otlp"),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, None),
    ],
)
def test_otel_variables_choose_the_exporter_and_tracing_is_off_by_default(
    environ: dict[str, str], exporter: str | None
) -> None:
    assert tracing.wanted(environ) == exporter


def test_off_by_default_no_sdk_no_exporter_no_request_instrumentation() -> None:
    """In a fresh process with no OTEL_* variable: configure() declines, and neither the SDK nor an exporter nor
    the HTTP instrumentation is even imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    script = (
        "import sys\n"
        "from shared import tracing\n"
        "from shared.http import create_app\n"
        "assert tracing.configure('enrollment') is False\n"
        "create_app('t', max_body_bytes=1000, readiness=[])\n"
        "assert not tracing.enabled()\n"
        "loaded = [m for m in sys.modules if m.startswith(('opentelemetry.sdk', 'opentelemetry.exporter',"
        " 'opentelemetry.instrumentation'))]\n"
        "assert loaded == [], loaded\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=120)


def test_on_when_asked_exports_over_otlp_named_after_the_service() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env |= {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_BSP_SCHEDULE_DELAY": "60000"}
    script = (
        "from opentelemetry import trace\n"
        "from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter\n"
        "from shared import tracing\n"
        "assert tracing.configure('issuer') is True and tracing.enabled()\n"
        "provider = trace.get_tracer_provider()\n"
        "assert provider.resource.attributes['service.name'] == 'credstream-issuer'\n"
        "(processor,) = provider._active_span_processor._span_processors\n"
        "assert isinstance(processor._batch_processor._exporter, OTLPSpanExporter)\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=120)


@pytest.mark.parametrize("sent", [TRACEPARENT, "00-zz-bad", f"00-{'0' * 32}-b7ad6b7169203331-01", "\u00ff" * 60])
async def test_an_http_request_span_continues_a_valid_traceparent_header_and_ignores_a_bad_one(sent: str) -> None:
    with collected_spans() as spans:
        app = create_app("t", max_body_bytes=1000, readiness=[])

        @app.get("/work")
        async def work() -> dict[str, str | None]:
            ids = tracing.current_ids()
            return {"trace": ids[0] if ids else None}

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answer = await client.get("/work", headers={"traceparent": sent.encode("latin-1")})
            await client.get("/healthz")
    assert answer.status_code == 200
    (server,) = spans.get_finished_spans()  # one span for the request: none for /healthz, none per ASGI message
    assert answer.json()["trace"] == trace_id(server)
    assert (trace_id(server) == TRACE) is (sent == TRACEPARENT)


@pytest.mark.parametrize(("sent", "kept"), [(TRACEPARENT, TRACEPARENT), ("00-nonsense", None)])
def test_a_kafka_lms_record_in_another_format_keeps_its_trace_context(sent: str, kept: str | None) -> None:
    """Records in other formats may come without CloudEvents attributes (their id is derived): their trace context
    still counts."""
    headers = {
        "ce_type": "io.credstream.lms.xapi.v1",
        "credstream_connection": "moodle-1",
        "ce_traceparent": sent,
        "ce_tracestate": "v=1",
    }
    _inbound, attributes = decode_inbound(InboundRecord(str(Topic.LMS_INBOUND), "k", b"{}", headers))
    assert attributes.id.startswith("sha256:")
    assert attributes.traceparent == kept
