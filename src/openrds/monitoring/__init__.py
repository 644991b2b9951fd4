"""Watching the data plane: replication lag and server figures, polled once a second into one snapshot
that lag eviction, the APIs, the console and /metrics all read."""
