"""Moving events: records, the consumer pipeline (idempotency, retries, dead letters), Kafka and in-memory transports."""
