"""OpenTelemetry traces across the pipeline: W3C trace context travels in the CloudEvents distributed-tracing
extension (`ce_traceparent` / `ce_tracestate` headers), spans are exported over OTLP when the standard `OTEL_*`
variables ask for it, and nothing is exported (nor reached over the network) otherwise.

One trace follows an LMS request: the enrollment HTTP span → the outbox row (its headers store the request's
traceparent; the relay publishes them as staged) → one CONSUMER span per record in each consumer, a child of the
record's traceparent → the events a handler stages carry the span of the record with the same key (`tenant:learner`)
→ … → the verifier's read-model update. A batch also gets one span (current while it runs, so log lines carry its
trace id) linked to its records' spans.

With tracing off no span is made: an event a consumer emits carries on the traceparent of the record that caused it
as received, so a traced service further down still joins the trace.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from fastapi import FastAPI

    from shared.contracts.cloudevents import CloudEvent

_tracer_of: list[object] = [None, None]  # (provider, its tracer)
_propagator = TraceContextTextMapPropagator()
# Trace context (traceparent, tracestate) of the record being handled, per record key: what an event staged for
# that key continues.
_causes: ContextVar[dict[str, tuple[str, str | None]] | None] = ContextVar("credstream_trace_causes", default=None)
_EXPORTERS = ("otlp", "console")


def wanted(environ: dict[str, str] | None = None) -> str | None:
    """Which exporter the `OTEL_*` variables ask for: `otlp`, `console` or None (off, the default).

    Off unless `OTEL_TRACES_EXPORTER` names an exporter or an OTLP endpoint is set; `OTEL_SDK_DISABLED=true` and
    `OTEL_TRACES_EXPORTER=none` turn it off whatever else is set."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter in _EXPORTERS:
        return exporter
    if exporter:  # "none", or one we do not ship
        return None
    if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return "otlp"
    return None


def configure(service: str) -> bool:
    """Install an SDK tracer provider exporting as the `OTEL_*` variables say; True if tracing is on.

    The SDK is imported only then: with tracing off the API's no-op tracer stays, and `enabled()` is False."""
    exporter_name = wanted()
    if exporter_name is None:
        return False
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    exporter: SpanExporter
    if exporter_name == "console":
        exporter = ConsoleSpanExporter()
    else:
        # http/protobuf; endpoint, headers, timeout, compression and certificates come from OTEL_EXPORTER_OTLP_*.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over this default name.
    defaults = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: f"credstream-{service}"}
    provider = TracerProvider(resource=Resource.create(defaults))
    provider.add_span_processor(BatchSpanProcessor(exporter))  # OTEL_BSP_* tune it
    trace.set_tracer_provider(provider)
    return True


def _tracer() -> trace.Tracer:
    # Per provider, not one ProxyTracer for good: that would keep the first SDK tracer after a test restores the
    # no-op provider.
    provider = trace.get_tracer_provider()
    if _tracer_of[0] is not provider:
        _tracer_of[:] = [provider, provider.get_tracer("credstream")]
    return _tracer_of[1]  # type: ignore[no-any-return]


def enabled() -> bool:
    """Whether an SDK tracer provider is installed (by `configure`, or by a test)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def instrument_app(app: FastAPI) -> None:
    """A SERVER span per HTTP request (a `traceparent` request header is its parent); probes are left out."""
    if not enabled():
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # No span per ASGI message sent or received: one per request is what an operator reads.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="/healthz,/readyz,/metrics", exclude_spans=["receive", "send"]
    )


def parent_context(ce: CloudEvent) -> Any:
    """The OpenTelemetry context a record's `ce_traceparent` names (an empty one when absent)."""
    carrier = {"traceparent": ce.traceparent} if ce.traceparent else {}
    if ce.traceparent and ce.tracestate:
        carrier["tracestate"] = ce.tracestate
    return _propagator.extract(carrier)


def _header_values(span: trace.Span) -> tuple[str, str | None]:
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, trace.set_span_in_context(span))
    return carrier["traceparent"], carrier.get("tracestate") or None


class RecordSpans:
    """The spans of the records being handled, by CloudEvents id (none with tracing off)."""

    def __init__(self) -> None:
        self.by_id: dict[str, trace.Span] = {}

    def failed(self, ce_id: str | None, reason: str) -> None:
        """Mark a record's span as failed (it was dead-lettered)."""
        span = self.by_id.get(ce_id or "")
        if span is not None:
            span.set_status(Status(StatusCode.ERROR, reason[:200]))


@contextmanager
def consuming(consumer: str, topic: str, items: Sequence[tuple[str, CloudEvent]]) -> Iterator[RecordSpans]:
    """Spans for handling `items` (record key, attributes) in one go: one CONSUMER span per record, a child of its
    traceparent, and for a batch one span linked to them; events staged meanwhile continue their record's trace."""
    records = RecordSpans()
    if not enabled():
        causes = {key: (ce.traceparent, ce.tracestate) for key, ce in items if ce.traceparent}
        token = _causes.set(causes)
        try:
            yield records
        finally:
            _causes.reset(token)
        return
    with ExitStack() as spans:
        causes = {}
        links = []
        for key, ce in items:
            span = spans.enter_context(
                _tracer().start_as_current_span(
                    f"{topic} process",
                    context=parent_context(ce),
                    kind=SpanKind.CONSUMER,
                    attributes={
                        "messaging.system": "kafka",
                        "messaging.operation.type": "process",
                        "messaging.destination.name": topic,
                        "messaging.consumer.group.name": consumer,
                        "messaging.message.id": ce.id,
                        "cloudevents.event_source": ce.source,
                        "cloudevents.event_type": ce.type,
                    },
                    end_on_exit=True,
                )
            )
            causes[key] = _header_values(span)  # the last record of a key causes what is staged for it
            records.by_id[ce.id] = span
            links.append(Link(span.get_span_context()))
        if len(items) > 1:
            # Current while the batch runs (a root: no one record's trace is the batch's); links to the record spans.
            spans.enter_context(
                _tracer().start_as_current_span(
                    f"{consumer} batch",
                    context=trace.set_span_in_context(trace.INVALID_SPAN),
                    links=links,
                    attributes={"messaging.batch.message_count": len(items), "messaging.destination.name": topic},
                )
            )
        token = _causes.set(causes)
        try:
            yield records
        finally:
            _causes.reset(token)


def continued(ce: CloudEvent, key: str) -> CloudEvent:
    """`ce` carrying the trace context it continues: its own if set, else that of the record being handled for
    `key`, else the current span's (an HTTP request's); unchanged when there is none."""
    if ce.traceparent:
        return ce
    causes = _causes.get()
    cause = causes.get(key) if causes else None
    if cause is None:
        span = trace.get_current_span()
        if not span.get_span_context().is_valid:
            return ce
        cause = _header_values(span)
    return ce.model_copy(update={"traceparent": cause[0], "tracestate": cause[1]})


def current_ids() -> tuple[str, str] | None:
    """(trace_id, span_id) of the current span in hex, for log lines; None when no span is active."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")
