"""Finding and parsing input files: errors name the file and the line."""

from pathlib import Path

import pytest

from taskmanager.cli.documents import DocumentError, discover, load


def test_parse_errors_name_file_and_line(tmp_path: Path) -> None:
    bad_json = tmp_path / "a.json"
    bad_json.write_text('{\n  "template": "x",\n  "name": \n}\n')
    bad_yaml = tmp_path / "b.yaml"
    bad_yaml.write_text("template: x\nscan_sources: [T1\nname: y\n")
    with pytest.raises(DocumentError) as json_error:
        load(bad_json)
    assert json_error.value.problem.line == 4
    assert str(json_error.value.problem).startswith(f"{bad_json}:4: invalid JSON")
    with pytest.raises(DocumentError) as yaml_error:
        load(bad_yaml)
    assert yaml_error.value.problem.line == 3
    assert "invalid YAML" in str(yaml_error.value.problem)


def test_discover_files_directories_and_globs_once_each(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name in ("d/1.json", "d/sub/2.yaml", "d/3.yml", "d/notes.txt", "x.json"):
        (tmp_path / name).write_text("{}")
    found, problems = discover(
        [str(tmp_path / "d"), str(tmp_path / "*.json"), str(tmp_path / "d" / "1.json")]
    )
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "d/1.json",
        "d/3.yml",
        "d/sub/2.yaml",
        "x.json",
    ]
    assert problems == []
    (tmp_path / "empty").mkdir()
    found, problems = discover(
        [str(tmp_path / "missing.json"), str(tmp_path / "*.nothing"), str(tmp_path / "empty")]
    )
    assert found == []
    assert [p.message for p in problems] == [
        "no such file or directory",
        "the pattern matches no files",
        "no .json/.yaml/.yml files in directory",
    ]
