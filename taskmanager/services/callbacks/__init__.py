"""Callbacks: the outbox rows (`outbox`), when and how often they are tried (`policy`), and where
they may go (`destinations`). Sending them over HTTP is the workers' part (`workers.delivery`)."""
