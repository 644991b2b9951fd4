"""OpenRDS: a self-hosted managed PostgreSQL service with cloud-compatible APIs."""

__version__ = "0.1.0"
