"""Workload runner and seeding for measuring a TaskManager server (see docs/benchmarks.md)."""
