"""Offline forms: export (JSON, notebook), fill, import from files, folders and e-mail, once."""

from __future__ import annotations

import copy
import json
import mailbox
import shutil
from email.message import EmailMessage
from email.policy import default as policy
from pathlib import Path

import nbformat
import pytest

import docket
from docket.forms.definition import load_form
from docket.offline.envelope import verify
from docket.offline.notebook import FILL_IN_TAG
from tests.conftest import EXAMPLES
from tests.offline_helpers import (
    cli,
    export_blank,
    fill,
    mail_with,
    request_data,
    row_counts,
    write_json,
)

OFFLINE = EXAMPLES / "offline"


# -- export ---------------------------------------------------------------------------------


def test_export_json_is_a_sealed_blank_with_the_forms_schema(tmp_path: Path, instance_dir: Path) -> None:
    blank = export_blank(tmp_path, instance_dir, "ingest-request", "de")
    assert blank["docket_form"] == "ingest-request" and blank["form_version"] == "1.1"
    assert blank["language"] == "de" and "Formular" in blank["instructions"]
    assert set(blank["data"]["metadata"]["project_descriptive"]["title"]) == {"en", "fr", "de"}
    assert "docket:request" in blank["schema"]["$defs"]
    form = load_form("ingest-request", instance_dir)
    assert verify(blank, form).status == "sealed"
    # Its schema stands alone: a provider's jsonschema, without docket, lists what is missing.
    from jsonschema import Draft202012Validator

    errors = list(Draft202012Validator(blank["schema"]).iter_errors({}))
    assert {e.message for e in errors} >= {"'provider' is a required property"}


def test_export_notebook_has_labels_in_the_language_and_a_fill_in_cell(tmp_path: Path, instance_dir: Path) -> None:
    out = tmp_path / "form.ipynb"
    run = cli("form", "export", "ingest-request", "--format", "ipynb", "--lang", "fr", "--output", out,
              "--json", instance=instance_dir)
    assert run.code == 0, run.err
    assert run.json()["language"] == "fr"
    nb = nbformat.read(out, as_version=4)
    nbformat.validate(nb)
    text = "\n".join(c.source for c in nb.cells)
    assert "Courriel" in text and "form.filled.json" in text
    assert sum(FILL_IN_TAG in c.metadata.get("tags", []) for c in nb.cells) == 1


def test_export_refuses_bad_usage(tmp_path: Path, instance_dir: Path) -> None:
    assert cli("form", "export", "no-such-form", "-o", tmp_path / "x.json", instance=instance_dir).code == 2
    bad_lang = cli("form", "export", "ingest-request", "--lang", "xx", "-o", tmp_path / "x.json", instance=instance_dir)
    assert bad_lang.code == 2 and "has no language 'xx'" in bad_lang.err
    out = tmp_path / "exists.json"
    out.write_text("{}")
    again = cli("form", "export", "ingest-request", "-o", out, instance=instance_dir)
    assert again.code == 2 and "--force" in again.err and out.read_text() == "{}"
    listed = cli("form", "list", "--json", instance=instance_dir).json()
    assert {f["name"] for f in listed} >= {"ingest-request", "file-resubmission"}


# -- import ---------------------------------------------------------------------------------


def test_a_form_exported_before_the_form_changed_still_imports(tmp_path: Path, instance_dir: Path) -> None:
    """Version 1.0 of the request form is kept in forms/history/: a provider who filled a 1.0
    export by hand is checked against 1.0, then validated against today's form and schema."""
    from docket.offline.export import export_form

    old = load_form("ingest-request", version="1.0")
    assert old.version == "1.0" and old.version != load_form("ingest-request").version
    blank = json.loads(export_form(old, "json", "en"))
    assert blank["form_version"] == "1.0"
    path = write_json(tmp_path / "filled-1.0.json", fill(blank, request_data()))
    result = cli("import", path, "--json", instance=instance_dir)
    assert result.code == 0, result.out + result.err
    item = result.json()["items"][0]
    assert (item["status"], item["filled"]) == ("imported", "filled-by-hand")

    unknown = write_json(tmp_path / "filled-0.3.json", fill(dict(blank, form_version="0.3"), request_data()))
    refused = cli("import", unknown, "--json", instance=instance_dir).json()["items"][0]
    assert refused["status"] == "altered" and "'0.3'" in refused["message"]
    with pytest.raises(docket.errors.NotFound, match="no version 0.3"):
        load_form("ingest-request", version="0.3")


def test_a_form_filled_by_hand_imports_once_and_only_once(tmp_path: Path, instance_dir: Path) -> None:
    blank = export_blank(tmp_path, instance_dir)
    path = write_json(tmp_path / "filled.json", fill(blank, request_data()))
    first = cli("import", path, "--json", instance=instance_dir)
    assert first.code == 0, first.out + first.err
    item = first.json()["items"][0]
    assert item["status"] == "imported" and item["filled"] == "filled-by-hand"
    with docket.open(instance_dir) as d:
        stored = d.get(item["id"])
        assert stored["metadata"] == request_data()["metadata"]
        assert d.prov_bundles(item["id"])  # the submission is in PROV, the provider its agent
    counts = row_counts(instance_dir)

    # The same data again, even re-sealed in another language: the same record.
    resealed = write_json(tmp_path / "again.json", fill(blank, request_data(), sealed=True, language="fr"))
    second = cli("import", path, resealed, "--json", instance=instance_dir)
    assert second.code == 0
    assert [(i["status"], i["id"]) for i in second.json()["items"]] == [("already-imported", item["id"])] * 2
    assert row_counts(instance_dir) == counts


def test_relative_locations_are_relative_to_the_form_file(tmp_path: Path, instance_dir: Path) -> None:
    data = request_data()
    data["files"] = [{"name": "soil_sites.csv", "location": "../files/soil_sites.csv"}]
    folder = tmp_path / "forms"
    folder.mkdir()
    path = write_json(folder / "f.json", fill(export_blank(tmp_path, instance_dir), data, sealed=True))
    run = cli("import", path, "--json", instance=instance_dir)
    assert run.code == 0, run.out
    with docket.open(instance_dir) as d:
        stored = d.get(run.json()["items"][0]["id"])
    assert stored["files"][0]["location"] == (tmp_path / "files" / "soil_sites.csv").as_uri()


def test_a_password_in_an_imported_form_is_not_stored_and_the_import_says_so(
        tmp_path: Path, instance_dir: Path) -> None:
    data = request_data()
    data["files"] = [{"name": "soil_sites.csv", "location": "https://alice:s3cret@data.example.org/soil.csv"}]
    path = write_json(tmp_path / "f.json", fill(export_blank(tmp_path, instance_dir), data, sealed=True))
    run = cli("import", path, "--json", instance=instance_dir)
    assert run.code == 0, run.out + run.err
    item = run.json()["items"][0]
    assert item["status"] == "imported"
    assert "files[0].location" in item["message"] and "data.example.org" in item["message"]
    assert "s3cret" not in run.out + run.err
    with docket.open(instance_dir) as d:
        assert d.get(item["id"])["files"][0]["location"] == "https://alice@data.example.org/soil.csv"


@pytest.mark.parametrize("alteration", ["form_version", "form_name", "schema", "data_after_sealing",
                                        "digest_removed", "language"])
def test_a_form_altered_outside_the_form_is_refused_and_named_altered(
    tmp_path: Path, instance_dir: Path, alteration: str
) -> None:
    blank = export_blank(tmp_path, instance_dir)
    env = fill(blank, request_data(), sealed=True)
    if alteration == "form_version":
        env["form_version"] = "0.9"
    elif alteration == "form_name":
        env["docket_form"] = "file-resubmission"
    elif alteration == "schema":
        env["schema"]["$defs"]["docket:common"]["$defs"]["email"] = {"type": "string"}
    elif alteration == "data_after_sealing":
        env["data"]["metadata"]["project_descriptive"]["keywords"].append("added later")
    elif alteration == "digest_removed":
        del env["digest"]
    elif alteration == "language":
        env["language"] = "de"
    before = row_counts(instance_dir)
    run = cli("import", write_json(tmp_path / "altered.json", env), "--json", instance=instance_dir)
    assert run.code == 1
    item = run.json()["items"][0]
    assert item["status"] == "altered" and ("digest" in item["message"])
    assert run.json()["altered"] == 1 and run.json()["refused"] == 1
    assert row_counts(instance_dir) == before
    text = cli("import", tmp_path / "altered.json", instance=instance_dir)
    assert text.code == 1 and text.out.startswith("altered")


def test_changing_instructions_is_not_an_alteration(tmp_path: Path, instance_dir: Path) -> None:
    env = fill(export_blank(tmp_path, instance_dir), request_data(), sealed=True)
    env["instructions"] = "translated by the provider's colleague"
    assert cli("import", write_json(tmp_path / "f.json", env), instance=instance_dir).code == 0


def test_an_invalid_form_is_refused_with_every_error_and_its_path_and_nothing_stored(instance_dir: Path) -> None:
    before = row_counts(instance_dir)
    run = cli("import", OFFLINE / "invalid.json", "--json", instance=instance_dir)
    assert run.code == 1
    item = run.json()["items"][0]
    assert item["status"] == "refused"
    assert {p["where"] for p in item["problems"]} == {
        "$.data.provider.email",
        "$.data.metadata.dataset_administrative.licence",
        "$.data.metadata.experiment_contextual.temporal_coverage.end",
    }
    assert row_counts(instance_dir) == before
    text = cli("import", OFFLINE / "invalid.json", instance=instance_dir)
    # worded from the one catalogue of messages, as the page and the notebook word it
    assert "$.data.provider.email: 'jonas.weber(at)soil-lab.example.de' is not a valid e-mail address" in text.out


def test_validation_happens_before_any_write(tmp_path: Path, instance_dir: Path) -> None:
    """A good form and a broken one in one run: the report lists both, and the good one is stored."""
    batch = tmp_path / "batch"
    batch.mkdir()
    blank = export_blank(batch, instance_dir)
    good = write_json(batch / "a-good.json", fill(blank, request_data()))
    bad = batch / "b-bad.json"
    bad.write_bytes(b'{"docket_form": "ingest-request", "data": {')
    run = cli("import", batch, "--json", instance=instance_dir)
    assert run.code == 1
    statuses = {Path(i["source"]).name: i["status"] for i in run.json()["items"]}
    assert statuses == {"a-good.json": "imported", "b-bad.json": "refused",
                        "blank-ingest-request-en.json": "refused"}  # a blank lists what is required
    assert good.exists()


@pytest.mark.parametrize("raw, words", [
    (b"\xff\xfe{not utf-8}", "not UTF-8"),
    (b'{"docket_form": "ingest-request", "docket_form": "x"}', "appears twice"),
    (b'{"docket_form": "ingest-request", "data": NaN}', "NaN is not a JSON number"),
    (b"[" * 5000 + b"]" * 5000, "nested"),
    (b'{"docket_form": "ingest-request", "x": "\\ud800"}', "lone surrogate"),
    (b'{"a": 1' + b"9" * 5000 + b"}", "digits"),
    (b'{"docket_form": "ingest-request", "data": {"t": "a\\u0000b"}}', "$.data.t: the text contains a NUL"),
    (b'{"docket_form": "ingest-request", "data": {"n": 1e400}}', "overflows to Infinity"),
    (b'[1, 2, 3]', "not a docket offline form"),
])
def test_broken_json_is_refused_with_a_message(tmp_path: Path, instance_dir: Path, raw: bytes, words: str) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(raw)
    run = cli("import", path, "--json", instance=instance_dir)
    assert run.code == 1, run.err
    item = run.json()["items"][0]
    assert item["status"] == "refused" and words in item["message"], item


def test_a_bare_request_is_not_an_offline_form(instance_dir: Path) -> None:
    run = cli("import", EXAMPLES / "requests" / "soil-several-files.json", instance=instance_dir)
    assert run.code == 1 and "docket submit" in run.out


def test_bad_usage_exits_2(tmp_path: Path, instance_dir: Path) -> None:
    assert cli("import", instance=instance_dir).code == 2
    missing = cli("import", tmp_path / "nope.json", instance=instance_dir)
    assert missing.code == 2 and "nope.json does not exist" in missing.err
    assert cli("import", OFFLINE / "ctd-survey.json", "--max-bytes", "0", instance=instance_dir).code == 2


# -- size limits ----------------------------------------------------------------------------


def test_oversized_files_and_attachments_are_refused(tmp_path: Path, instance_dir: Path) -> None:
    blank = export_blank(tmp_path, instance_dir)
    body = json.dumps(fill(blank, request_data(), sealed=True)).encode()
    path = tmp_path / "big.json"
    path.write_bytes(body)
    run = cli("import", path, "--max-bytes", str(len(body) - 1), "--json", instance=instance_dir)
    assert run.code == 1 and "over the limit" in run.json()["items"][0]["message"]
    eml = tmp_path / "big.eml"
    eml.write_bytes(mail_with([("form.json", body)]).as_bytes())
    # The message fits; its attachment (decoded) does not.
    run = cli("import", eml, "--max-bytes", str(len(body) * 2), "--json", instance=instance_dir)
    assert run.code == 0  # base64 makes the message ~4/3 of the attachment, under 2x
    config = instance_dir / "docket.toml"
    config.write_text(config.read_text().replace("max_upload_bytes = 1073741824", "max_upload_bytes = 1000"))
    run = cli("import", eml, "--json", instance=instance_dir)
    assert run.code == 1 and "max_upload_bytes" in run.json()["items"][0]["message"]


# -- e-mail -----------------------------------------------------------------------------------


def test_eml_mbox_and_maildir_examples(tmp_path: Path, instance_dir: Path) -> None:
    mail = OFFLINE / "mail"
    run = cli("import", mail / "weather-form.eml", "--json", instance=instance_dir)
    assert run.code == 0 and run.json()["imported"] == 1
    assert run.json()["items"][0]["source"].endswith("weather-form.eml > attachment weather-2022.json")
    fwd = cli("import", mail / "forwarded.eml", "--json", instance=instance_dir).json()
    assert fwd["items"][0]["status"] == "already-imported"
    assert "forwarded message" in fwd["items"][0]["source"]
    box = cli("import", mail / "inbox.mbox", "--json", instance=instance_dir)
    assert box.code == 0
    assert [i["status"] for i in box.json()["items"]] == ["imported", "skipped"]
    maildir = tmp_path / "Maildir"
    shutil.copytree(mail / "Maildir", maildir)
    (maildir / "tmp").mkdir()
    md = cli("import", maildir, "--json", instance=instance_dir)
    assert md.code == 0
    assert sorted(i["status"] for i in md.json()["items"]) == ["imported", "skipped"]


def test_attachments_nested_in_forwarded_messages_and_alternative_parts(tmp_path: Path, instance_dir: Path) -> None:
    blank = export_blank(tmp_path, instance_dir)
    forms = []
    for n in range(3):
        data = request_data()
        data["metadata"]["project_descriptive"]["title"] = f"Topsoil chemistry, lot {n}"
        forms.append(json.dumps(fill(blank, data, sealed=True)).encode())
    # multipart/alternative holding a multipart/mixed with the first form
    inner_mixed = mail_with([("one.json", forms[0])])
    outer = EmailMessage(policy=policy)
    outer["Subject"], outer["From"] = "alt", "a@example.org"
    outer.make_alternative()
    outer.attach(inner_mixed)
    # a forwarded message, itself forwarding a message with the second form, plus the third directly
    deep = mail_with([("two.json", forms[1])])
    middle = EmailMessage(policy=policy)
    middle["Subject"] = "Fwd"
    middle.set_content("fwd")
    middle.add_attachment(deep)
    top = mail_with([("three.json", forms[2])], subject="Fwd: Fwd")
    top.add_attachment(middle)
    top.add_attachment(outer)
    eml = tmp_path / "nested.eml"
    eml.write_bytes(top.as_bytes())
    run = cli("import", eml, "--json", instance=instance_dir)
    assert run.code == 0, run.out
    items = run.json()["items"]
    assert [i["status"] for i in items] == ["imported"] * 3
    assert {i["source"].rsplit(" ", 1)[-1] for i in items} == {"one.json", "two.json", "three.json"}


def test_an_mbox_built_here_and_a_folder_of_everything(tmp_path: Path, instance_dir: Path) -> None:
    blank = export_blank(tmp_path, instance_dir)
    box = mailbox.mbox(str(tmp_path / "desk.mbox"))
    for n in range(3):
        data = request_data()
        data["metadata"]["project_descriptive"]["title"] = f"Lot {n}"
        box.add(mail_with([(f"lot{n}.json", json.dumps(fill(blank, data)).encode())]))
    box.add(mail_with([("garbage.json", b"{oops")]))
    box.close()
    run = cli("import", tmp_path / "desk.mbox", "--json", instance=instance_dir)
    assert run.code == 1
    assert [i["status"] for i in run.json()["items"]] == ["imported"] * 3 + ["refused"]


EXPECTED = {  # as examples/offline/README.md says
    "README.md": "skipped",
    "altered.json": "altered",
    "build_examples.py": "skipped",
    "ctd-survey.json": "imported",
    "invalid.json": "refused",
    "mail/Maildir message 1733120000.M1P2.desk": "skipped",
    "mail/Maildir message 1733130000.M1P1.desk > attachment soil-2024.json": "imported",
    "mail/forwarded.eml > forwarded message > attachment weather-2022.json": "imported",
    "mail/inbox.mbox message 1 > attachment ctd-autumn.json": "imported",
    "mail/inbox.mbox message 2": "skipped",
    "mail/weather-form.eml > attachment weather-2022.json": "already-imported",
    "soil-sites.json": "imported",
}


def test_the_examples_folder_imports_as_its_readme_says(instance_dir: Path) -> None:
    run = cli("import", OFFLINE, "--json", instance=instance_dir)
    assert run.code == 1
    got = {str(Path(i["source"].split(" ", 1)[0]).relative_to(OFFLINE)) + (" " + i["source"].split(" ", 1)[1]
           if " " in i["source"] else ""): i["status"] for i in run.json()["items"]}
    assert got == EXPECTED
    counts = row_counts(instance_dir)
    again = cli("import", OFFLINE, "--json", instance=instance_dir).json()
    assert again["imported"] == 0 and again["already_imported"] == run.json()["imported"] + run.json()["already_imported"]
    assert row_counts(instance_dir) == counts


# -- a form that changes a request ----------------------------------------------------------


def test_file_resubmission_makes_a_new_revision_once(tmp_path: Path, instance_dir: Path) -> None:
    first = cli("import", OFFLINE / "ctd-survey.json", "--json", instance=instance_dir).json()["items"][0]
    blank = export_blank(tmp_path, instance_dir, "file-resubmission", "en", "--request", first["id"])
    assert blank["request"] == first["id"]
    data = {"provider": {"name": "Ana Lima", "email": "ana.lima@ifremer.example.org"},
            "files": [{"name": "ctd_v2.csv", "location": "https://data.example.org/incoming/ctd_v2.csv"}],
            "comment": "corrected salinity"}
    path = write_json(tmp_path / "resub.json", fill(blank, data))
    run = cli("import", path, "--json", instance=instance_dir)
    assert run.code == 0, run.out
    item = run.json()["items"][0]
    assert (item["id"], item["revision"]) == (first["id"], 2)
    with docket.open(instance_dir) as d:
        doc = d.get(first["id"])
    assert [f["name"] for f in doc["files"]] == ["ctd_v2.csv"] and doc["metadata"]["project_descriptive"]
    assert cli("import", path, "--json", instance=instance_dir).json()["items"][0]["status"] == "already-imported"
    # a blank request id filled by hand is fine; an unknown one is named
    open_blank = export_blank(tmp_path, instance_dir, "file-resubmission")
    other = write_json(tmp_path / "other.json", fill(open_blank, data, request="ocean-0999"))
    refused = cli("import", other, "--json", instance=instance_dir).json()["items"][0]
    assert refused["status"] == "refused" and refused["problems"][0]["where"] == "$.request"


# -- the notebook -----------------------------------------------------------------------------


def _run_notebook(nb_path: Path, data: dict) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        if FILL_IN_TAG in cell.metadata.get("tags", []):
            cell.source = "data = " + repr(data)
    NotebookClient(nb, timeout=60, kernel_name="python3",
                   resources={"metadata": {"path": str(nb_path.parent)}}).execute()
    return nb


def test_the_exported_notebook_saves_a_sealed_form_that_imports(tmp_path: Path, instance_dir: Path) -> None:
    nb_path = tmp_path / "request.ipynb"
    assert cli("form", "export", "ingest-request", "--format", "ipynb", "-o", nb_path, instance=instance_dir).code == 0
    bad = copy.deepcopy(request_data())
    bad["provider"]["orcid"] = "0000-0002-1825-0098"  # wrong check digit
    nb = _run_notebook(nb_path, bad)
    said = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "NOT saved" in said and "$.provider.orcid" in said
    assert not (tmp_path / "request.filled.json").exists()

    nb = _run_notebook(nb_path, request_data())
    filled = tmp_path / "request.filled.json"
    assert filled.exists(), nb.cells[-1].outputs
    run = cli("import", filled, "--json", instance=instance_dir)
    assert run.code == 0, run.out
    assert run.json()["items"][0]["filled"] == "sealed"
    # edited by hand after the notebook saved it: altered
    env = json.loads(filled.read_text())
    env["data"]["provider"]["name"] = "Someone Else"
    write_json(filled, env)
    assert cli("import", filled, "--json", instance=instance_dir).json()["items"][0]["status"] == "altered"
