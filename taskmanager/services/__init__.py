"""Domain rules: every rule lives once, here, in a function that takes the session."""
