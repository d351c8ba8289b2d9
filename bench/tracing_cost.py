"""What tracing costs a consumer per record: `tracing.consuming` over a batch plus one event staged per record
(`event_record`, which carries the trace on), with tracing off (the default) and on (SDK, batch span processor,
an exporter that drops everything), against the same work without any tracing call.

    taskset -c 0 .venv/bin/python bench/tracing_cost.py [--batch 500] [--rounds 40]

Prints CPU microseconds per record (process time, so a busy machine inflates it less than wall time) and the load
average before and after.
"""

import argparse
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from shared import tracing
from shared.contracts import CloudEvent, EnrollmentRecorded
from shared.messaging.records import OutboundRecord, event_record


class Dropping(SpanExporter):
    def export(self, spans: Sequence[object]) -> SpanExportResult:  # type: ignore[override]
        return SpanExportResult.SUCCESS


def items(count: int) -> list[tuple[str, CloudEvent, EnrollmentRecorded]]:
    made = []
    for n in range(count):
        event = EnrollmentRecorded(
            tenant_id="acme",
            learner_id=f"l{n}",
            kind="enrolled",
            achievement_id="a",
            occurred_at=datetime.now(UTC),
            source="lms://bench",
            source_event_id=str(n),
        )
        parent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
        made.append((event.key(), CloudEvent(source="b", type="t", traceparent=parent), event))
    return made


def untraced_record(event: EnrollmentRecorded, ce: CloudEvent) -> OutboundRecord:
    """`event_record` as it was before traces."""
    return OutboundRecord(str(event.TOPIC), event.key(), event.model_dump_json().encode(), ce.to_header_dict())


def untraced(*_args: object) -> nullcontext[None]:
    return nullcontext()


def run(
    batch: list[tuple[str, CloudEvent, EnrollmentRecorded]],
    scope: Callable[..., object],
    stage: Callable[[EnrollmentRecorded, CloudEvent], OutboundRecord],
    rounds: int,
) -> float:
    out = CloudEvent(source="svc", type=EnrollmentRecorded.CE_TYPE)
    started = time.process_time()
    for _ in range(rounds):
        with scope("bench", "topic", [(key, ce) for key, ce, _e in batch]):  # type: ignore[attr-defined]
            for _key, _ce, event in batch:
                stage(event, out)
    return (time.process_time() - started) / (rounds * len(batch)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    batch = items(args.batch)
    print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}")

    run(batch, untraced, untraced_record, 2)
    baseline = run(batch, untraced, untraced_record, args.rounds)
    off = run(batch, tracing.consuming, event_record, args.rounds)
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Dropping()))
    trace.set_tracer_provider(provider)
    run(batch, tracing.consuming, event_record, 2)
    on = run(batch, tracing.consuming, event_record, args.rounds)
    provider.shutdown()
    print(f"CPU µs per record (batch {args.batch}, one event staged per record): before traces {baseline:.2f},")
    print(f"  tracing off {off:.2f} ({off / baseline:.3f}x), tracing on {on:.2f} ({on / baseline:.2f}x)")
    print(f"load average after: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
