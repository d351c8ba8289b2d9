"""structlog for our code and the libraries' stdlib logging, JSON in production; e-mail addresses are masked.

During a broker outage aiokafka logs every failed reconnect, metadata refresh, fetch and heartbeat at ERROR, a few
times a second per client (1,700-13,000 lines per service for one outage). Those are the library retrying, not
something to page on: `BrokerReconnectFilter` logs them at WARNING, at most once per message per interval, saying
how many it held back.
"""

import logging
import re
import sys
import threading
import time
from typing import Any

import structlog

from shared.tracing import current_ids

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def _mask_emails(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key, value in event_dict.items():
        if isinstance(value, str) and "@" in value:
            event_dict[key] = _EMAIL.sub("<email>", value)
    return event_dict


# How aiokafka messages that only say "the broker cannot be reached right now" begin.
_RECONNECT_MESSAGES = (
    "Unable connect to node",
    "Unable to update metadata",
    "Failed fetch messages from",
    "Group Coordinator Request failed",
    "Error sending HeartbeatRequest",
    "Heartbeat send request failed",
    "Heartbeat failed for group",
    "Heartbeat session expired",
    "Marking the coordinator dead",
    "Unable to request metadata",
    "Got error produce response",
    "Error sending OffsetCommitRequest",
    "OffsetCommit failed",
    "Failed to send",
)


class BrokerReconnectFilter(logging.Filter):
    """On the handler: aiokafka's reconnect noise at WARNING and at most once per `interval` seconds per message
    template (with the count held back since); every other aiokafka warning or error is rate-limited the same way
    but keeps its level. Records from everything else pass untouched."""

    def __init__(self, interval: float = 10.0, clock: Any = time.monotonic) -> None:
        super().__init__()
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], float] = {}
        self._held: dict[tuple[str, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("aiokafka") or record.levelno < logging.WARNING:
            return True
        template = str(record.msg)
        if record.levelno > logging.WARNING and record.getMessage().startswith(_RECONNECT_MESSAGES):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        key = (record.name, template)
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                self._held[key] = self._held.get(key, 0) + 1
                return False
            self._last[key] = now
            held = self._held.pop(key, 0)
        if held:
            record.msg = f"{template} ({held} more like this since the last one)"
        return True


def _add_trace_ids(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """`trace_id` and `span_id` of the active span (OpenTelemetry's hex form), to find a line's trace."""
    ids = current_ids()
    if ids is not None:
        event_dict.setdefault("trace_id", ids[0])
        event_dict.setdefault("span_id", ids[1])
    return event_dict


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Route structlog and stdlib logging through one renderer."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_ids,
        _mask_emails,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(BrokerReconnectFilter())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "sqlalchemy.engine", "httpx", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # FastStream gives its own "faststream" logger a colourised stream handler and stops propagation on import, so
    # its lines would bypass the JSON renderer; route them through ours like every other library's.
    import faststream  # noqa: F401  (sets that logger up now, so the reset below sticks)

    broker_logger = logging.getLogger("faststream")
    broker_logger.handlers.clear()
    broker_logger.propagate = True
    broker_logger.setLevel(logging.NOTSET)
