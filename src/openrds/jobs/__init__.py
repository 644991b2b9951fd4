"""Durable jobs: long work as ordered, idempotent steps, checkpointed in the store."""
