"""The write machinery: units of work, idempotency, group commit, batches, the aggregate cache
and the event store's settings. It imports the domain and `storage` (the event store's
recorders), never a context."""
