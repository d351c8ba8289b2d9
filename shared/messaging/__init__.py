"""Moving events: records, the consumer pipeline (idempotency, retries, dead letters), the transports."""
