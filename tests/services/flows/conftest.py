from ...support.taskgroups import admin  # noqa: F401  (the fixture, for every test here)
