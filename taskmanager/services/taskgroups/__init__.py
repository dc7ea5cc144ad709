"""Task groups: tasks created together, whose status follows their tasks."""
