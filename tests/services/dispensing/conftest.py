from ...support.dispensing import people  # noqa: F401  (the fixture, for every test here)
