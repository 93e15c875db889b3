"""PROV-Template expansion: the note's own examples, docket's extras, bad input, and the CLI."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from prov.constants import PROV_LABEL, PROV_TYPE, PROV_VALUE
from prov.identifier import Namespace
from prov.model import Literal, ProvDocument

from docket.cli import main
from docket.errors import BadInput, NotFound
from docket.provenance import export
from docket.provenance.template import (
    TMPL,
    UUID,
    VAR,
    VARGEN,
    Bindings,
    expand,
    load_template,
    template_variables,
)

DATA = Path(__file__).parent / "data" / "templates"
ROOT = Path(__file__).resolve().parents[1]
EX = Namespace("ex", "http://example.org/")


def fixture(name: str) -> tuple[ProvDocument, Bindings]:
    return load_template(DATA / f"{name}.json"), Bindings.load(DATA / f"{name}-bindings.json")


def statements(doc: ProvDocument) -> list[str]:
    """The PROV-N statement lines of a document, sorted (prov's order is not the point)."""
    lines = [line.strip() for line in doc.get_provn().splitlines()]
    skip = ("document", "endDocument", "bundle ", "endBundle", "prefix ", "default ")
    return sorted(line for line in lines if line and not line.startswith(skip))


def records(doc: ProvDocument, kind: str) -> list:
    bundle = next(iter(doc.bundles)) if doc.has_bundles() else doc
    return [r for r in bundle.get_records() if r.get_type().localpart == kind]


# --- the note's examples -------------------------------------------------------------------


#: The PROV-Template note's example 2 expanded with ``tmpl:order``: what the reference gives.
NOTE_EXAMPLE_2 = sorted(
    [
        'agent(ex:ag1, [tmpl:order="[0]"])',
        'agent(ex:ag2, [tmpl:order="[1]"])',
        'entity(ex:en1, [tmpl:order="[0]"])',
        'entity(ex:en2, [tmpl:order="[1]"])',
        'entity(ex:en3, [tmpl:order="[2]"])',
        'wasAttributedTo(ex:en1, ex:ag1, [tmpl:order="[0, 0]"])',
        'wasAttributedTo(ex:en1, ex:ag2, [tmpl:order="[1, 0]"])',
        'wasAttributedTo(ex:en2, ex:ag1, [tmpl:order="[0, 1]"])',
        'wasAttributedTo(ex:en2, ex:ag2, [tmpl:order="[1, 1]"])',
        'wasAttributedTo(ex:en3, ex:ag1, [tmpl:order="[0, 2]"])',
        'wasAttributedTo(ex:en3, ex:ag2, [tmpl:order="[1, 2]"])',
    ]
)


def test_note_example_2_cartesian_product_in_index_order():
    template, bindings = fixture("attribution")
    doc = expand(template, bindings, add_order=True).document
    assert statements(doc) == NOTE_EXAMPLE_2
    # the bundle keeps the template's (constant) identifier
    assert next(iter(doc.bundles)).identifier == EX["b"]
    # the order of instantiation is the note's: the first group (var:a) varies fastest
    pairs = [(r.args[0].localpart, r.args[1].localpart) for r in records(doc, "Attribution")]
    assert pairs == [
        ("en1", "ag1"),
        ("en1", "ag2"),
        ("en2", "ag1"),
        ("en2", "ag2"),
        ("en3", "ag1"),
        ("en3", "ag2"),
    ]


def test_note_example_3_linked_variables_change_together():
    template, bindings = fixture("attribution-linked")
    doc = expand(template, bindings, add_order=True).document
    assert statements(doc) == sorted(
        [
            'agent(ex:ag1, [tmpl:order="[0]"])',
            'agent(ex:ag2, [tmpl:order="[1]"])',
            'entity(ex:en1, [tmpl:order="[0]"])',
            'entity(ex:en2, [tmpl:order="[1]"])',
            'wasAttributedTo(ex:en1, ex:ag1, [tmpl:order="[0]"])',
            'wasAttributedTo(ex:en2, ex:ag2, [tmpl:order="[1]"])',
        ]
    )
    # tmpl:linked is an instruction to the expander, not part of the result
    assert "linked" not in doc.get_provn()


def test_note_example_4_statement_level_variable_gets_one_entry_per_instantiation():
    template, bindings = fixture("attribution-typed")
    doc = expand(template, bindings, add_order=True).document
    attributions = [s for s in statements(doc) if s.startswith("wasAttributedTo")]
    assert attributions == sorted(
        [
            "wasAttributedTo(ex:en1, ex:ag1, [prov:type='ex:t1', tmpl:order=\"[0, 0]\"])",
            "wasAttributedTo(ex:en1, ex:ag2, [prov:type='ex:t2a', prov:type='ex:t2b', tmpl:order=\"[1, 0]\"])",
            "wasAttributedTo(ex:en2, ex:ag1, [prov:type='ex:t3', tmpl:order=\"[0, 1]\"])",
            "wasAttributedTo(ex:en2, ex:ag2, [prov:type='ex:t4', tmpl:order=\"[1, 1]\"])",
            "wasAttributedTo(ex:en3, ex:ag1, [prov:type='ex:t5a', prov:type='ex:t5b', prov:type='ex:t5c', tmpl:order=\"[0, 2]\"])",
            "wasAttributedTo(ex:en3, ex:ag2, [prov:type='ex:t6', tmpl:order=\"[1, 2]\"])",
        ]
    )


def test_tmpl_order_is_off_by_default():
    template, bindings = fixture("attribution")
    doc = expand(template, bindings).document
    assert "tmpl" not in doc.get_provn()
    assert "wasAttributedTo(ex:en3, ex:ag2)" in statements(doc)


def test_template_grouping_follows_the_note():
    assert template_variables(load_template(DATA / "attribution-linked.json")) == {
        "var:a": {"kind": "node", "group": 0, "linked": ["var:b"]},
        "var:b": {"kind": "node", "group": 0, "linked": ["var:a"]},
    }
    variables = template_variables(load_template(DATA / "binaryop.json"))
    assert variables["var:bundle"] == {"kind": "bundle"}
    assert variables["var:operation_type"] == {"kind": "attribute"}
    assert variables["vargen:generation"] == {"kind": "attribute"}
    assert variables["var:consumed1"]["kind"] == "node"


# --- times, labels, values, types, optional parts ------------------------------------------


def test_binary_operation_times_labels_values_and_types():
    template, bindings = fixture("binaryop")
    expansion = expand(template, bindings)
    doc = expansion.document
    bundle = next(iter(doc.bundles))
    assert bundle.identifier == EX["bundle1"]  # the bundle variable, bound

    (activity,) = records(doc, "Activity")
    utc = dt.UTC
    assert activity.get_startTime() == dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=utc)
    assert activity.get_endTime() == dt.datetime(2024, 5, 1, 12, 0, 5, tzinfo=utc)
    assert activity.get_asserted_types() == {EX["addition"]}
    assert not [a for a, _ in activity.attributes if a.namespace.uri == TMPL.uri]

    produced = bundle.get_record(EX["v21"])[0]
    assert produced.get_attribute(PROV_VALUE) == {
        Literal("21", Namespace("xsd", "http://www.w3.org/2001/XMLSchema#")["long"])
    }
    assert produced.get_attribute(PROV_LABEL) == {
        Literal("twenty-one", langtag="en"),
        Literal("vingt et un", langtag="fr"),
    }
    # xsd:int and a bare JSON number both become numbers
    assert bundle.get_record(EX["v10"])[0].get_attribute(PROV_VALUE) == {10}
    assert bundle.get_record(EX["v11"])[0].get_attribute(PROV_VALUE) == {11}

    (generation,) = records(doc, "Generation")
    assert generation.args[2] == dt.datetime(2024, 5, 1, 12, 0, 5, tzinfo=utc)  # tmpl:time
    # vargen: in a relation identifier: a fresh uuid, kept in the complete bindings
    assert generation.identifier.namespace.uri == UUID.uri
    assert expansion.bindings.vargen["generation"] == [
        {"@id": f"uuid:{generation.identifier.localpart}"}
    ]
    assert expansion.bindings.context["uuid"] == "urn:uuid:"

    # unbound var: in an optional position (the plan) drops the argument only
    (association,) = records(doc, "Association")
    assert association.args == (EX["operation1"], EX["calculator"], None)
    # unbound var: in a main position (the agent of an attribution) drops the statement
    assert records(doc, "Attribution") == []
    assert expansion.notes == (
        "dropped wasAttributedTo(var:produced, var:checker): var:checker is unbound",
    )
    # constant attributes of the template are kept
    assert {r.get_attribute("prov:role").pop().localpart for r in records(doc, "Usage")} == {
        "arg1",
        "arg2",
    }


def test_unbound_attribute_variable_drops_the_attribute_only():
    template, bindings = fixture("binaryop")
    data = bindings.to_json()
    del data["var"]["operation_type"], data["var"]["start"]
    doc = expand(template, Bindings.from_json(data)).document
    (activity,) = records(doc, "Activity")
    assert activity.get_asserted_types() == set()
    assert activity.get_startTime() is None
    assert activity.get_endTime() is not None


def test_unbound_identifier_variable_drops_the_statement_and_its_relations():
    template, bindings = fixture("attribution")
    data = bindings.to_json()
    del data["var"]["a"]
    expansion = expand(template, Bindings.from_json(data))
    assert statements(expansion.document) == ["entity(ex:en1)", "entity(ex:en2)", "entity(ex:en3)"]
    assert "dropped agent(var:a): var:a is unbound" in expansion.notes


def test_strict_refuses_an_unbound_mandatory_variable():
    template, bindings = fixture("binaryop")
    with pytest.raises(BadInput, match="var:checker"):
        expand(template, bindings, strict=True)


def test_empty_list_gives_no_instance():
    template, bindings = fixture("attribution")
    data = bindings.to_json()
    data["var"]["b"] = []
    doc = expand(template, Bindings.from_json(data)).document
    assert statements(doc) == ["agent(ex:ag1)", "agent(ex:ag2)"]


def test_unused_binding_is_noted():
    template, bindings = fixture("attribution")
    data = bindings.to_json()
    data["var"]["agnet"] = [{"@id": "ex:x"}]
    assert (
        "bindings variable var:agnet is not used by the template"
        in expand(template, Bindings.from_json(data)).notes
    )


# --- vargen --------------------------------------------------------------------------------


def test_linked_vargen_gets_one_identifier_per_value_and_is_reproducible(tmp_path):
    template, bindings = fixture("copies")
    first = expand(template, bindings)
    doc = first.document
    bundle = next(iter(doc.bundles))
    assert bundle.identifier.namespace.uri == "urn:uuid:"  # vargen: bundle identifier

    copies = [r for r in records(doc, "Entity") if EX["Copy"] in r.get_asserted_types()]
    assert len({c.identifier for c in copies}) == 2
    derived = {(r.args[0], r.args[1]) for r in records(doc, "Derivation")}
    generated = first.bindings.vargen
    assert derived == {
        (UUID[generated["copy"][i]["@id"].split(":", 1)[1]], EX[name])
        for i, name in enumerate(["a.csv", "b.csv"])
    }
    assert {c.identifier for c in copies} == {d[0] for d in derived}
    assert len(generated["derivation"]) == 2 and len(generated["bundle"]) == 1

    # the complete bindings, saved beside the bundle, give the same expansion again
    path = tmp_path / "bindings.json"
    first.bindings.save(path)
    again = expand(load_template(DATA / "copies.json"), Bindings.load(path))
    assert again.document == first.document
    assert again.bindings.to_json() == first.bindings.to_json()
    # while without them each expansion mints new identifiers
    assert expand(template, bindings).document != first.document


def test_vargen_namespace_is_configurable():
    template, bindings = fixture("copies")
    gen = Namespace("gen", "https://dc.example/gen/")
    expansion = expand(template, bindings, vargen_namespace=gen)
    assert next(iter(expansion.document.bundles)).identifier.namespace == gen
    assert expansion.bindings.context["gen"] == "https://dc.example/gen/"
    assert "uuid" not in expansion.bindings.context
    other = expand(template, bindings, vargen_namespace="run=https://dc.example/run/")
    assert next(iter(other.document.bundles)).identifier.namespace.uri == "https://dc.example/run/"


def test_bound_vargen_values_are_used():
    template, bindings = fixture("copies")
    data = bindings.to_json()
    data["vargen"] = {
        "bundle": [{"@id": "ex:bundle9"}],
        "copy": [{"@id": "ex:c1"}, {"@id": "ex:c2"}],
    }
    expansion = expand(template, Bindings.from_json(data))
    assert next(iter(expansion.document.bundles)).identifier == EX["bundle9"]
    assert "wasDerivedFrom" in expansion.document.get_provn()
    assert {r.args[0] for r in records(expansion.document, "Derivation")} == {EX["c1"], EX["c2"]}
    assert set(expansion.bindings.vargen) == {"bundle", "copy", "derivation"}


# --- template formats and the result -------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xml", "trig", "provn"])
def test_template_in_other_formats_expands_the_same(tmp_path, fmt):
    template, bindings = fixture("binaryop")
    reference = expand(template, bindings)
    path = tmp_path / f"binaryop.{fmt}"
    path.write_bytes(export.serialize(template, fmt))
    assert expand(load_template(path), reference.bindings).document == reference.document


def test_turtle_template_has_no_bundle_and_expands_at_top_level(tmp_path):
    template, bindings = fixture("attribution")
    path = tmp_path / "attribution.ttl"
    path.write_bytes(export.serialize(template, "ttl"))
    expansion = expand(load_template(path), bindings)
    assert expansion.bundle is None
    assert "wasAttributedTo(ex:en2, ex:ag1)" in statements(expansion.document)


def test_expansion_loads_back_with_prov():
    template, bindings = fixture("binaryop")
    doc = expand(template, bindings).document
    for fmt in ("json", "xml"):
        text = doc.serialize(format=fmt)
        assert ProvDocument.deserialize(content=text, format=fmt) == doc
    # and the result holds no variable or template namespace any more
    assert VAR.uri not in doc.serialize(format="json")
    assert VARGEN.uri not in doc.serialize(format="json")


@pytest.mark.parametrize(
    "path", sorted((ROOT / "prov_templates").glob("*.json")), ids=lambda p: p.name
)
def test_packaged_templates_are_valid_templates(path):
    variables = template_variables(load_template(path))
    assert variables, f"{path.name} has no variable"


# --- bindings ------------------------------------------------------------------------------


def test_bindings_from_python_values_are_stored_in_json_form():
    when = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    b = Bindings(
        var={"file": [EX["a.csv"]], "when": when, "n": 3, "note": Literal("bonjour", langtag="fr")},
        context={"dkt": "https://docket.invalid/ns#"},
    )
    assert b.to_json() == {
        "var": {
            "file": [{"@id": "ex:a.csv"}],
            "when": [{"@value": "2024-05-01T12:00:00+00:00", "@type": "xsd:dateTime"}],
            "n": [3],
            "note": [{"@value": "bonjour", "@language": "fr"}],
        },
        "vargen": {},
        "context": {"dkt": "https://docket.invalid/ns#", "ex": "http://example.org/"},
    }
    assert Bindings.from_json(json.dumps(b.to_json())).to_json() == b.to_json()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("[1, 2]", "must be a JSON object"),
        ('{"vars": {}}', "unknown key"),
        ('{"var": []}', "'var' must be an object"),
        ('{"var": {"a": [{"value": 1}]}}', "var:a"),
        ('{"var": {"a": [{"@id": "nocolon"}]}}', "var:a"),
        ('{"var": {"a": [{"@value": [1]}]}}', "var:a"),
        ('{"context": {"ex": 3}}', "context"),
        ("{not json", "not JSON"),
        ("[" * 5000 + "]" * 5000, "nested more than 64 levels"),
        ("{\"var\": {\"a\": NaN}}", "NaN is not a JSON number"),
    ],
)
def test_bad_bindings_are_refused_naming_the_problem(data, message):
    with pytest.raises(BadInput, match=message):
        Bindings.from_json(data)


def test_bad_bindings_file(tmp_path):
    with pytest.raises(NotFound):
        Bindings.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    with pytest.raises(BadInput, match="bad.json is not JSON"):
        Bindings.load(bad)


def _with(name: str, **var) -> tuple[ProvDocument, Bindings]:
    template, bindings = fixture(name)
    data = bindings.to_json()
    data["var"].update(var)
    return template, Bindings.from_json(data)


@pytest.mark.parametrize(
    ("name", "var", "message"),
    [
        ("attribution", {"a": ["ex:ag1"]}, r"var:a\[0\].*not an identifier"),
        ("attribution", {"a": [{"@id": "nope:ag1"}]}, "prefix 'nope'"),
        ("attribution-linked", {"a": [{"@id": "ex:ag1"}]}, "var:a has 1, var:b has 2"),
        ("attribution-typed", {"c": [[{"@id": "ex:t1"}]]}, "var:c has 1 entry"),
        (
            "binaryop",
            {"bundle": [{"@id": "ex:b1"}, {"@id": "ex:b2"}]},
            "bundle variable var:bundle",
        ),
        ("binaryop", {"start": ["yesterday"]}, "var:start.*xsd:dateTime"),
    ],
)
def test_bindings_that_do_not_fit_the_template(name, var, message):
    template, bindings = _with(name, **var)
    with pytest.raises(BadInput, match=message):
        expand(template, bindings)


def test_unbound_bundle_variable_is_an_error():
    template, bindings = fixture("binaryop")
    data = bindings.to_json()
    del data["var"]["bundle"]
    with pytest.raises(BadInput, match="var:bundle needs exactly one identifier but is unbound"):
        expand(template, Bindings.from_json(data))


def test_bad_templates_are_refused(tmp_path):
    two = ProvDocument()
    two.add_namespace(EX)
    two.bundle(EX["b1"]).entity(EX["x"])
    two.bundle(EX["b2"]).entity(EX["y"])
    with pytest.raises(BadInput, match="one bundle"):
        expand(two, Bindings())

    both = ProvDocument()
    bundle = both.bundle(EX["b"])
    bundle.entity(VAR["x"])
    bundle.entity(EX["y"], {PROV_TYPE: VAR["x"]})
    with pytest.raises(BadInput, match="var:x stands for a node"):
        expand(both, Bindings())

    timed = ProvDocument()
    timed.bundle(EX["b"]).entity(VAR["x"], {TMPL["time"]: VAR["t"]})
    with pytest.raises(BadInput, match="tmpl:time does not apply to a Entity"):
        expand(timed, Bindings(var={"x": EX["e"], "t": "2024-01-01T00:00:00Z"}))

    with pytest.raises(NotFound):
        load_template(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"entity": 3}')
    with pytest.raises(BadInput, match="broken.json"):
        load_template(broken)
    with pytest.raises(BadInput, match="unknown extension"):
        load_template(tmp_path / "t.docx")


# --- command line --------------------------------------------------------------------------


def test_cli_expand_prints_the_document(capsys):
    code = main(
        [
            "template",
            "expand",
            str(DATA / "attribution.json"),
            str(DATA / "attribution-bindings.json"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    doc = ProvDocument.deserialize(content=out, format="json")
    assert "wasAttributedTo(ex:en3, ex:ag2)" in statements(doc)


def test_cli_expand_to_files_with_bindings_and_notes(tmp_path, capsys):
    out, kept = tmp_path / "out.provn", tmp_path / "complete.json"
    args = ["template", "expand", str(DATA / "binaryop.json"), str(DATA / "binaryop-bindings.json")]
    code = main(
        [*args, "--format", "provn", "--output", str(out), "--bindings-out", str(kept), "--order"]
    )
    captured = capsys.readouterr()
    assert code == 0
    assert captured.out == ""
    assert "dropped wasAttributedTo(var:produced, var:checker)" in captured.err
    assert 'tmpl:order="[0]"' in out.read_text()
    complete = Bindings.load(kept)
    assert "generation" in complete.vargen
    # the kept bindings reproduce the expansion exactly
    code = main([*args[:3], str(kept), "--format", "provn", "--order"])
    assert capsys.readouterr().out.strip() == out.read_text().strip()


def test_cli_json_summary(capsys):
    code = main(
        [
            "template",
            "expand",
            str(DATA / "copies.json"),
            str(DATA / "copies-bindings.json"),
            "--json",
        ]
    )
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert summary["format"] == "json"
    assert set(summary["bindings"]["vargen"]) == {"bundle", "copy", "derivation"}
    doc = ProvDocument.deserialize(io.StringIO(json.dumps(summary["document"])), format="json")
    assert len(records(doc, "Derivation")) == 2


def test_cli_vars(capsys):
    assert main(["template", "vars", str(DATA / "attribution-linked.json")]) == 0
    assert "linked with var:b" in capsys.readouterr().out
    assert main(["template", "vars", str(DATA / "attribution.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["var:a"]["kind"] == "node"


def test_cli_errors_are_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "b.json"
    bad.write_text('{"var": {"a": [{"nothing": 1}]}}')
    code = main(["template", "expand", str(DATA / "attribution.json"), str(bad)])
    err = capsys.readouterr().err
    assert code == 2
    assert "var:a" in err and "Traceback" not in err
    code = main(
        [
            "template",
            "expand",
            str(DATA / "attribution.json"),
            str(DATA / "attribution-bindings.json"),
            "-f",
            "nope",
        ]
    )
    assert code == 2
    assert "nope" in capsys.readouterr().err


def test_cli_console_script():
    exe = Path(sys.executable).parent / "docket"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "docket.cli"]
    result = subprocess.run(
        [
            *command,
            "template",
            "expand",
            str(DATA / "attribution-linked.json"),
            str(DATA / "attribution-linked-bindings.json"),
            "--format",
            "provn",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "wasAttributedTo(ex:en2, ex:ag2)" in result.stdout
    assert "wasAttributedTo(ex:en1, ex:ag2)" not in result.stdout
