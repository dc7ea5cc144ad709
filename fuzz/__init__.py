"""Fuzzing the running server against its own OpenAPI document (run by .ci/run)."""
