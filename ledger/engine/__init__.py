"""The write machinery: units of work, idempotency, group commit, batches, the aggregate cache
and the event store's recorders. It imports the domain, never a context."""
