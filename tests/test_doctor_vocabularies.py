"""``docket doctor`` checks the form settings of docket.toml: the keyword thesaurus and map tiles.

A thesaurus is otherwise read only when someone opens a request form, so a missing, oversized or
malformed one would be found by a provider ("suggestions unavailable") instead of by the data
centre that configured it. Each test writes a real thesaurus file (or none) into a new instance,
names it in docket.toml as a data centre would, runs ``docket doctor`` through the command line and
checks the finding (the setting, the file, the loader's message) and the exit code.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

import docket
from docket.vocabularies.thesaurus import MAX_BYTES
from tests.clirun import docket_cli
from tests.conftest import EXAMPLES

VOCABULARIES = EXAMPLES / "vocabularies"
KEY = "docket.toml [vocabularies] keywords"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A new, empty SQLite instance (healthy for every other doctor check)."""
    root = tmp_path / "inst"
    docket.init(root, project="ocean", base_uri="https://data.example.org/ocean/").close()
    (root / "vocabularies").mkdir()
    return root


def configure(root: Path, toml: str) -> None:
    with (root / "docket.toml").open("a", encoding="utf-8") as handle:
        handle.write("\n" + toml + "\n")


def use_thesaurus(root: Path, name: str) -> None:
    configure(root, f'[vocabularies]\nkeywords = "vocabularies/{name}"')


def doctor(root: Path, *args: str) -> tuple[int, list[dict[str, Any]]]:
    result = docket_cli("doctor", "--json", *args, instance=root)
    assert result.code in (0, 1), result.err
    assert "Traceback" not in result.err
    return result.code, result.json()


def only(findings: list[dict[str, Any]], check: str) -> dict[str, Any]:
    (found,) = [f for f in findings if f["check"] == check]
    return found


@pytest.mark.parametrize(("name", "concepts"), [("science-keywords.ttl", 49), ("science-keywords.csv", 12)])
def test_good_thesaurus_is_reported_with_its_size(folder: Path, name: str, concepts: int) -> None:
    shutil.copy(VOCABULARIES / name, folder / "vocabularies" / name)
    use_thesaurus(folder, name)
    code, findings = doctor(folder)
    found = only(findings, "config.keywords")
    assert code == 0, findings
    assert found["severity"] == "info" and found["where"] == f"{KEY} (vocabularies/{name})"
    assert f": {concepts} concepts, " in found["what"]
    text = docket_cli("doctor", instance=folder)
    assert text.code == 0 and text.out.strip().endswith("healthy"), text.out
    assert f"INFO   config.keywords   {KEY} (vocabularies/{name})" in text.out


def test_malformed_turtle_names_the_file_and_line(folder: Path) -> None:
    good = (VOCABULARIES / "science-keywords.ttl").read_text(encoding="utf-8").splitlines()
    # Spoil the end of the first statement after the prefixes (line index + 1 of the file).
    index = next(i for i, line in enumerate(good) if line.rstrip().endswith(" .") and not line.startswith("@"))
    good[index] = good[index].rstrip()[:-1] + " ;;; oops"
    (folder / "vocabularies" / "kw.ttl").write_text("\n".join(good) + "\n", encoding="utf-8")
    use_thesaurus(folder, "kw.ttl")
    code, findings = doctor(folder)
    found = only(findings, "config.keywords")
    assert code == 1 and found["severity"] == "error" and not found["fixable"]
    assert found["where"] == f"{KEY} (vocabularies/kw.ttl)"
    assert found["what"].startswith(f"thesaurus kw.ttl, line {index + 1}: not valid Turtle (")
    text = docket_cli("doctor", instance=folder)
    assert text.code == 1 and text.out.strip().endswith("1 problem (1 error)"), text.out
    assert f"ERROR  config.keywords   {KEY} (vocabularies/kw.ttl): thesaurus kw.ttl, line {index + 1}: " in text.out


def test_csv_past_the_size_bound_is_refused_without_reading_it_all(folder: Path) -> None:
    with (folder / "vocabularies" / "huge.csv").open("wb") as handle:
        handle.write(b"label,language,uri\nOcean,en,\n")
        handle.truncate(MAX_BYTES + 1)  # sparse: past the bound without filling the disk
    use_thesaurus(folder, "huge.csv")
    code, findings = doctor(folder)
    found = only(findings, "config.keywords")
    assert code == 1 and found["severity"] == "error"
    assert found["where"] == f"{KEY} (vocabularies/huge.csv)"
    assert found["what"].startswith(f"thesaurus huge.csv: larger than {MAX_BYTES // (1024 * 1024)} MiB")


def test_csv_with_a_bad_row_names_the_line(folder: Path) -> None:
    (folder / "vocabularies" / "kw.csv").write_text(
        "label,language,uri\nOcean,en,https://vocab.example.org/ocean\nSalinity,english,\n", encoding="utf-8")
    use_thesaurus(folder, "kw.csv")
    code, findings = doctor(folder)
    found = only(findings, "config.keywords")
    assert code == 1 and found["what"].startswith("thesaurus kw.csv, line 3: 'english' is not a language code")


def test_missing_thesaurus_file(folder: Path) -> None:
    use_thesaurus(folder, "gone.ttl")
    code, findings = doctor(folder)
    found = only(findings, "config.keywords")
    assert code == 1 and found["severity"] == "error"
    assert found["where"] == f"{KEY} (vocabularies/gone.ttl)"
    assert found["what"].startswith("thesaurus gone.ttl: cannot be read (")


def test_bad_setting_and_no_setting(folder: Path) -> None:
    code, findings = doctor(folder)
    assert code == 0 and [f for f in findings if f["check"].startswith("config.")] == []
    configure(folder, '[vocabularies]\nkeyword = "vocabularies/kw.ttl"')  # a typo of the key
    code, findings = doctor(folder)
    found = only(findings, "config.keywords")
    assert code == 1 and found["where"] == "docket.toml"
    assert found["what"].startswith("[vocabularies]: unknown setting 'keyword'")


def test_map_tiles_shape_is_checked_never_fetched(folder: Path) -> None:
    # An address nothing answers at: a fetch would fail or hang, the shape alone is fine.
    configure(folder, '[form]\nmap_tiles = "https://tiles.invalid/{z}/{x}/{y}.png"')
    code, findings = doctor(folder, "--check", "config.map_tiles")
    assert code == 0 and findings == []
    toml = (folder / "docket.toml").read_text(encoding="utf-8")
    (folder / "docket.toml").write_text(toml.replace("https://tiles.invalid/{z}/{x}/{y}.png",
                                                     "ftp://tiles.example.org/{z}/{x}/{y}.png"), encoding="utf-8")
    code, findings = doctor(folder, "--check", "config.map_tiles")
    (found,) = findings
    assert code == 1 and found["check"] == "config.map_tiles" and found["severity"] == "error"
    assert found["where"] == "docket.toml"
    assert found["what"].startswith("[form] map_tiles: 'ftp://tiles.example.org/{z}/{x}/{y}.png' is not a tile URL")
    toml = (folder / "docket.toml").read_text(encoding="utf-8")
    (folder / "docket.toml").write_text(toml.replace("ftp://tiles.example.org/{z}/{x}/{y}.png",
                                                     "https://tiles.example.org/world.png"), encoding="utf-8")
    code, findings = doctor(folder)
    assert code == 1 and "is not a tile URL" in only(findings, "config.map_tiles")["what"]


def test_the_python_api_runs_the_same_checks(folder: Path) -> None:
    """``Docket.doctor()`` (what a data manager's notebook calls) reports the thesaurus too."""
    (folder / "vocabularies" / "kw.csv").write_text("no thesaurus here\x00\n", encoding="utf-8")
    use_thesaurus(folder, "kw.csv")
    with docket.open(folder) as d:
        report = d.doctor()
    (found,) = [f for f in report.findings if f.check == "config.keywords"]
    assert found.severity == "error" and "kw.csv" in found.where
