from taskmanager.services.kit import references


def test_normalise_takes_the_last_url_segment() -> None:
    assert references.normalise("/api/v1/users/3") == "3"
    assert references.normalise("http://host/prefix/api/v1/users/alice/") == "alice"
    assert references.normalise(" alice ") == "alice"
    assert references.normalise(7) == "7"


def test_as_id_only_for_numbers_an_id_column_holds() -> None:
    assert references.as_id("12") == 12
    assert references.as_id(12) == 12
    assert references.as_id("/api/v1/tags/12") == 12
    for not_an_id in ("0", "-1", "abc", "1.5", "²", str(2**31), 2**40, True):
        assert references.as_id(not_an_id) is None
