"""Carrying data over from task-manager 6.6.0."""
