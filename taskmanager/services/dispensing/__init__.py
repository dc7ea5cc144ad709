"""Dispensing tasks: locks, claims and reassignment."""
