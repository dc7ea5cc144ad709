"""Changes that compose tasks and task groups (above both)."""
