"""Tasks: who may see them, creating, changing, listing, their history and read models."""
