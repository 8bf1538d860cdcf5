"""`make bench`: wallet payments per second on PostgreSQL, next to a pgbench TPC-B baseline."""
