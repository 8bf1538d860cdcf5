"""Plumbing shared by the contexts; imports only libraries (eventsourcing, psycopg, sqlite3,
orjson), nothing of ours.

- `storage.log`: the one reader of the event log (every follower reads through it), and the
  only code that knows the library's table layout;
- `storage.decode`: stored event -> attributes, cheaply;
- `storage.sql` and `storage.table`: the one dual-dialect SQL store (read models, audit tables,
  mail outbox, link attempts) and a table's shape;
- `storage.preflight`: the schema check a process makes before it starts on PostgreSQL.
"""
