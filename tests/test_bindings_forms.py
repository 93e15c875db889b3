"""Bindings in every form ProvToolbox reads: JSON v3 (with linked), PROV-N, Turtle, PROV-JSON.

The note's examples and ProvToolbox's quote-attribution tutorial are written in each form under
``tests/data/bindings/``; each must expand to what the reference implementation gives, and each
form must convert to the others and back. Bad bindings are refused with one line, exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prov.model import ProvDocument

from docket.cli import main
from docket.errors import BadInput
from docket.provenance import export
from docket.provenance import template as template_module
from docket.provenance.bindings import (
    WRITABLE,
    bindings_document,
    detect_form,
    dump_bindings,
    load_bindings,
    parse_bindings,
)
from docket.provenance.template import Bindings, expand, load_template, template_variables
from tests.test_template import NOTE_EXAMPLE_2

HERE = Path(__file__).parent / "data"
DATA = HERE / "bindings"
TEMPLATES = HERE / "templates"

PROLOGUE = """document
  prefix var <http://openprovenance.org/var#>
  prefix tmpl <http://openprovenance.org/tmpl#>
  prefix ex <http://example.org/>
"""


def statements(doc: ProvDocument) -> list[str]:
    """The PROV-N statement lines of a document, sorted (bundle and prefix lines left out)."""
    lines = [line.strip() for line in doc.get_provn().splitlines()]
    skip = ("document", "endDocument", "bundle ", "endBundle", "prefix ", "default ")
    return sorted(line for line in lines if line and not line.startswith(skip))


def provn_bindings(tmp_path: Path, body: str, name: str = "b.provn") -> Path:
    path = tmp_path / name
    path.write_text(PROLOGUE + body + "\nendDocument\n")
    return path


# --- the reference examples, in every form --------------------------------------------------

#: ProvToolbox's tutorial: the quote-attribution template expanded with two authors.
QUOTE = sorted(
    [
        'entity(ex:quote1, [prov:value="A Little Provenance Goes a Long Way"])',
        "entity(ex:Defoe, [prov:type='prov:Person', foaf:name=\"Daniel Defoe\"])",
        "entity(ex:Poe, [prov:type='prov:Person', foaf:name=\"Edgar Allan Poe\"])",
        "wasAttributedTo(ex:quote1, ex:Defoe)",
        "wasAttributedTo(ex:quote1, ex:Poe)",
    ]
)
QUOTE_FORMS = [
    "quote-bindings.json",  # v3, with @documentation and "linked": null
    "quote-bindings-old.json",  # values written the PROV-JSON way ({"$": ..., "type": ...})
    "quote-bindings.provn",  # PROV-N, tmpl:value_i / tmpl:2dvalue_i_j
    "quote-bindings.ttl",  # Turtle
    "quote-bindings.provjson",  # PROV-JSON (told from the bindings JSON by its keys)
]


@pytest.mark.parametrize("name", QUOTE_FORMS)
def test_every_form_expands_the_tutorial_quote_like_provtoolbox(name):
    template = load_template(DATA / "quote.provn")
    expansion = expand(template, Bindings.load(DATA / name))
    assert statements(expansion.document) == QUOTE
    assert expansion.notes == ()
    # the bundle is the template's vargen:b, generated once and kept in the complete bindings
    assert list(expansion.bindings.vargen) == ["b"]


@pytest.mark.parametrize("name", QUOTE_FORMS)
def test_every_form_reads_to_the_same_bindings(name):
    expected = Bindings.load(DATA / "quote-bindings.json").to_json()
    expected.pop("@documentation")
    got = Bindings.load(DATA / name).to_json()
    got.pop("@documentation", None)
    assert got == expected


EXAMPLE_2 = NOTE_EXAMPLE_2
EXAMPLE_3 = sorted(
    [
        'agent(ex:ag1, [tmpl:order="[0]"])',
        'agent(ex:ag2, [tmpl:order="[1]"])',
        'entity(ex:en1, [tmpl:order="[0]"])',
        'entity(ex:en2, [tmpl:order="[1]"])',
        'wasAttributedTo(ex:en1, ex:ag1, [tmpl:order="[0]"])',
        'wasAttributedTo(ex:en2, ex:ag2, [tmpl:order="[1]"])',
    ]
)
EXAMPLE_4_ATTRIBUTIONS = sorted(
    [
        "wasAttributedTo(ex:en1, ex:ag1, [prov:type='ex:t1', tmpl:order=\"[0, 0]\"])",
        "wasAttributedTo(ex:en1, ex:ag2, [prov:type='ex:t2a', prov:type='ex:t2b', tmpl:order=\"[1, 0]\"])",
        "wasAttributedTo(ex:en2, ex:ag1, [prov:type='ex:t3', tmpl:order=\"[0, 1]\"])",
        "wasAttributedTo(ex:en2, ex:ag2, [prov:type='ex:t4', tmpl:order=\"[1, 1]\"])",
        "wasAttributedTo(ex:en3, ex:ag1, [prov:type='ex:t5a', prov:type='ex:t5b', prov:type='ex:t5c', tmpl:order=\"[0, 2]\"])",
        "wasAttributedTo(ex:en3, ex:ag2, [prov:type='ex:t6', tmpl:order=\"[1, 2]\"])",
    ]
)


def test_note_example_2_from_provn_bindings_with_order(capsys):
    code = main(
        [
            "template",
            "expand",
            str(TEMPLATES / "attribution.json"),
            str(DATA / "note-example-2-bindings.provn"),
            "--order",
            "--format",
            "provn",
        ]
    )
    assert code == 0
    doc = export.deserialize(capsys.readouterr().out.encode(), "provn")
    assert statements(doc) == EXAMPLE_2


def test_note_example_3_linked_in_the_bindings_equals_tmpl_linked_in_the_template():
    # ProvToolbox's Bindings.linked groups variables exactly as tmpl:linked does
    by_bindings = expand(
        load_template(TEMPLATES / "attribution.json"),
        Bindings.load(DATA / "note-example-3-bindings.json"),
        add_order=True,
    ).document
    assert statements(by_bindings) == EXAMPLE_3
    by_template = expand(
        load_template(TEMPLATES / "attribution-linked.json"),
        Bindings.load(TEMPLATES / "attribution-linked-bindings.json"),
        add_order=True,
    ).document
    assert statements(by_bindings) == statements(by_template)


def test_note_example_4_from_turtle_bindings_with_entries_of_several_values():
    doc = expand(
        load_template(TEMPLATES / "attribution-typed.json"),
        Bindings.load(DATA / "note-example-4-bindings.ttl"),
        add_order=True,
    ).document
    assert [s for s in statements(doc) if s.startswith("wasAttributedTo")] == EXAMPLE_4_ATTRIBUTIONS


def test_linked_spellings_and_null():
    template = load_template(TEMPLATES / "attribution.json")
    data = json.loads((DATA / "note-example-3-bindings.json").read_text())
    for linked in ({"a": "b"}, {"var:b": "var:a"}, {"http://openprovenance.org/var#a": "var:b"}):
        data["linked"] = linked
        assert statements(expand(template, data, add_order=True).document) == EXAMPLE_3
    data["linked"] = None  # null: no extra links, the Cartesian product
    data["var"]["b"].append({"@id": "ex:en3"})
    assert statements(expand(template, data, add_order=True).document) == EXAMPLE_2


def test_linked_to_a_variable_the_template_does_not_use_is_noted():
    data = json.loads((TEMPLATES / "attribution-bindings.json").read_text())
    data["linked"] = {"var:x": "var:y"}
    expansion = expand(load_template(TEMPLATES / "attribution.json"), data)
    assert any("var:x and var:y: the template uses neither" in n for n in expansion.notes)


def test_linked_vargen_in_the_bindings_gets_one_identifier_per_value():
    data = {
        "var": {"b": [{"@id": "ex:en1"}, {"@id": "ex:en2"}]},
        "linked": {"var:b": "vargen:a"},
        "context": {"ex": "http://example.org/"},
    }
    template = json.loads((TEMPLATES / "attribution.json").read_text())
    agent = template["bundle"]["ex:b"].pop("agent")["var:a"]
    template["bundle"]["ex:b"]["agent"] = {"vargen:a": agent}
    template["bundle"]["ex:b"]["prefix"]["vargen"] = "http://openprovenance.org/vargen#"
    attribution = template["bundle"]["ex:b"]["wasAttributedTo"]["_:id1"]
    attribution["prov:agent"] = "vargen:a"
    doc = export.deserialize(json.dumps(template).encode(), "json")
    expansion = expand(doc, data)
    assert len(expansion.bindings.vargen["a"]) == 2  # linked: two agents, not one
    assert len([s for s in statements(expansion.document) if s.startswith("wasAttributedTo")]) == 2


# --- conversions -----------------------------------------------------------------------------

RICH = {
    "@documentation": {"en": "every kind of value"},
    "var": {
        "file": [{"@id": "ex:a.csv"}, {"@id": "ex:b.csv"}],
        "size": [{"@value": "1024", "@type": "xsd:long"}, 2048],
        "title": [[{"@value": "Ocean", "@language": "en"}, {"@value": "Océan", "@language": "fr"}]],
        "when": [{"@value": "2024-05-01T12:00:00+00:00", "@type": "xsd:dateTime"}],
        "home": [{"@value": "https://example.org/x", "@type": "xsd:anyURI"}],
        "ok": [True],
        "ratio": [0.5],
        "plain": ["text"],
        "none": [],
    },
    "vargen": {"run": [{"@id": "uuid:0b5e0c5e-8c11-4a6e-9d1e-2f9a6a1b1c00"}]},
    "context": {"ex": "http://example.org/", "uuid": "urn:uuid:"},
    "template": "prov_templates/qa-run.json",
}


@pytest.mark.parametrize("form", WRITABLE)
def test_every_form_converts_and_reads_back_the_same(form):
    bindings = Bindings.from_json(RICH)
    data, notes = dump_bindings(bindings, form)
    back = parse_bindings(data).to_json()
    expected = bindings.to_json()
    if form != "json":  # the PROV forms carry the values only, and say what they left out
        del expected["@documentation"], expected["template"]
        assert len(notes) == 2
    assert back == expected


def test_prov_form_is_provtoolbox_s_value_and_2dvalue():
    doc = bindings_document(Bindings.load(DATA / "quote-bindings.json"))
    lines = statements(doc)
    assert (
        "entity(var:author, [tmpl:value_0='ex:Defoe', tmpl:value_1='ex:Poe', "
        "tmpl:2dvalue_0_0='ex:Defoe', tmpl:2dvalue_1_0='ex:Poe'])"
    ) in lines
    assert 'entity(var:name, [tmpl:2dvalue_0_0="Daniel Defoe", tmpl:2dvalue_1_0="Edgar Allan Poe"])' in lines


def test_cli_converts_provn_to_json_and_json_to_provn(tmp_path, capsys):
    assert main(["template", "bindings", str(DATA / "quote-bindings.provn")]) == 0
    converted = json.loads(capsys.readouterr().out)
    expected = Bindings.load(DATA / "quote-bindings.json").to_json()
    expected.pop("@documentation")
    assert converted == expected
    out = tmp_path / "b.provn"
    assert main(["template", "bindings", str(DATA / "quote-bindings.json"), "--to", "provn", "-o", str(out)]) == 0
    assert "@documentation" in capsys.readouterr().err  # the note on what PROV cannot carry
    assert "tmpl:value_0='ex:quote1'" in out.read_text()
    assert load_bindings(out).var == Bindings.load(DATA / "quote-bindings.json").var
    assert main(["template", "bindings", str(DATA / "quote-bindings.ttl"), "--to", "ttl"]) == 0
    assert "tmpl:value_0 ex:Defoe" in capsys.readouterr().out


def test_form_is_told_by_content_and_the_extension_only_breaks_a_tie(tmp_path):
    misnamed = tmp_path / "bindings.json"  # PROV-N in a .json file: the content wins
    misnamed.write_text((DATA / "quote-bindings.provn").read_text())
    assert load_bindings(misnamed).var["author"] == [{"@id": "ex:Defoe"}, {"@id": "ex:Poe"}]
    bare = "var:a a <http://www.w3.org/ns/prov#Entity> .\n"  # Turtle without a prefix line
    assert detect_form(bare, "ttl") == "ttl"
    with pytest.raises(BadInput, match="cannot tell the form"):
        detect_form(bare)
    assert detect_form("/* c */ // c\n  document\nendDocument") == "provn"
    assert detect_form("# c\n@prefix x: <y> .") == "ttl"


def test_plain_bindings_keep_their_stored_shape():
    # what the recorder keeps beside each bundle does not change: no linked/@documentation keys
    data = json.loads((TEMPLATES / "attribution-bindings.json").read_text())
    assert set(Bindings.from_json(data).to_json()) == {"var", "vargen", "context"}
    data["linked"] = {}
    assert set(Bindings.from_json(data).to_json()) == {"var", "vargen", "context"}


def test_linked_has_no_prov_form():
    with pytest.raises(BadInput, match='"linked" have no PROV form'):
        dump_bindings(Bindings.load(DATA / "note-example-3-bindings.json"), "provn")
    assert json.loads(dump_bindings(Bindings.load(DATA / "note-example-3-bindings.json"), "json")[0])[
        "linked"
    ] == {"var:a": "var:b"}


# --- bad input -------------------------------------------------------------------------------


BAD_FILES = [
    # malformed PROV-N, Turtle, JSON, PROV-JSON, PROV-XML
    ("b.provn", "document\n entity(var:a, [tmpl:value_0=", "not readable as PROV-N"),
    ("b.ttl", "@prefix var: <http://openprovenance.org/var#> .\nvar:a a [[[", "not readable as Turtle: line 2"),
    ("b.json", '{"var": ', "is not JSON docket accepts"),
    ("b.json", '{"prefix": {}, "entity": {"var:a": {"tmpl:value_0": 1}}}', "not readable as PROV-JSON"),
    ("b.xml", '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><d>&a;</d>', "not readable as PROV-XML"),
    ("b.txt", "hello", "cannot tell the form"),
    ("b.provn", b"\xff\xfe", "not UTF-8"),
    # unknown prefixes
    ("b.provn", "document\n entity(var:a, [tmpl:value_0='ex:b'])\nendDocument", "prefix 'var' is not declared"),
    (
        "b.ttl",
        "@prefix var: <http://openprovenance.org/var#> .\nvar:a a prov:Entity .",
        'Prefix "prov:" not bound',
    ),
    ("b.json", '{"var": {"a": [{"@id": "nope:x"}]}}', "prefix 'nope'"),
    # the bindings JSON, wrongly shaped
    ("b.json", '{"var": {}, "entity": {}}', "mix the bindings JSON"),
    ("b.json", '{"var": {}, "linked": ["var:a"]}', '"linked" must be null or an object'),
    ("b.json", '{"var": {}, "linked": {"var:a": "ex:b"}}', "not a template variable"),
    ("b.json", '{"var": {}, "@documentation": 3}', '"@documentation" must be'),
    ("b.json", '{"context": {"ex": "http://a/"}, "@context": {"ex": "http://b/"}}', "differ"),
    ("b.json", '{"var": {"a": [{"$": "x", "type": "xsd:QName"}]}}', "an identifier is"),
    # a template where bindings are expected (a template "expanded with itself")
    ("b.json", (TEMPLATES / "attribution.json").read_text(), "has a bundle (is it a template?)"),
]

BAD_PROV_BODIES = [
    ("entity(var:a, [tmpl:value_0=\"ag1\"])", "takes an identifier"),
    ("entity(var:a, [tmpl:value_0='ex:a', tmpl:value_2='ex:c'])", "tmpl:value_2 is given but tmpl:value_1 is missing"),
    ("entity(var:a, [tmpl:2dvalue_0_1='ex:a'])", "tmpl:2dvalue_0_1 is given but tmpl:2dvalue_0_0 is missing"),
    ("entity(var:a, [tmpl:value_0='ex:a', tmpl:2dvalue_0_0='ex:b'])", "give different values"),
    ("entity(var:a, [tmpl:value_x='ex:a'])", "unknown attribute tmpl:value_x"),
    ("entity(var:a, [tmpl:2dvalue_0='ex:a'])", "unknown attribute tmpl:2dvalue_0"),
    ("entity(var:a, [ex:value_0='ex:a'])", "is not a binding"),
    ("entity(ex:a, [tmpl:value_0='ex:a'])", "ex:a is not a template variable"),
    ("activity(var:a)", "hold only entities"),
    ("wasDerivedFrom(var:a, var:b)", "hold only entities"),
    ("entity(var:a, [tmpl:value_99999999999999999999='ex:a'])", "limit MAX_BINDING_VALUES"),
]


def _one_line_exit_2(capsys, argv: list[str], message: str) -> None:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(("name", "text", "message"), BAD_FILES)
def test_bad_bindings_files_are_one_line_exit_2(tmp_path, capsys, name, text, message):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    template = str(TEMPLATES / "attribution.json")
    _one_line_exit_2(capsys, ["template", "expand", template, str(path)], message)
    code = main(["template", "expand", template, str(path)])
    assert code == 2 and str(path) in capsys.readouterr().err  # the file at fault is named


@pytest.mark.parametrize(("body", "message"), BAD_PROV_BODIES)
def test_bad_prov_bindings_are_one_line_exit_2(tmp_path, capsys, body, message):
    path = provn_bindings(tmp_path, f"  {body}")
    _one_line_exit_2(capsys, ["template", "bindings", str(path)], message)


def test_a_literal_where_an_identifier_is_required(tmp_path, capsys):
    # tmpl:2dvalue may hold a literal, but var:a is a node of the template: refused on expansion
    path = provn_bindings(tmp_path, "  entity(var:a, [tmpl:2dvalue_0_0=\"Luc\"])")
    template = str(TEMPLATES / "attribution.json")
    _one_line_exit_2(capsys, ["template", "expand", template, str(path)], "var:a[0]: 'Luc' is not an identifier")
    code = main(["template", "expand", template, str(path)])
    assert code == 2 and str(path) in capsys.readouterr().err


def test_turtle_variable_without_a_type_is_refused_not_silently_dropped(tmp_path, capsys):
    path = tmp_path / "b.ttl"
    path.write_text(
        "@prefix var: <http://openprovenance.org/var#> .\n"
        "@prefix tmpl: <http://openprovenance.org/tmpl#> .\n"
        "@prefix ex: <http://example.org/> .\n"
        "var:a tmpl:value_0 ex:ag1 .\n"
    )
    _one_line_exit_2(capsys, ["template", "bindings", str(path)], "is not a prov:Entity")


def test_huge_value_lists_are_bounded(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(template_module, "MAX_BINDING_VALUES", 5)
    many = ", ".join(f"tmpl:value_{i}='ex:e{i}'" for i in range(6))
    path = provn_bindings(tmp_path, f"  entity(var:b, [{many}])")
    _one_line_exit_2(capsys, ["template", "bindings", str(path)], "limit MAX_BINDING_VALUES")
    as_json = tmp_path / "b.json"
    as_json.write_text(json.dumps({"var": {"b": [{"@id": f"ex:e{i}"} for i in range(6)]}}))
    _one_line_exit_2(capsys, ["template", "bindings", str(as_json)], "limit MAX_BINDING_VALUES")
    # a Cartesian product is bounded too: 3 agents x 2 entities = 6 attributions > 5
    product = tmp_path / "p.json"
    product.write_text(
        json.dumps(
            {
                "var": {"a": [{"@id": "ex:a1"}, {"@id": "ex:a2"}, {"@id": "ex:a3"}], "b": [{"@id": "ex:b1"}, {"@id": "ex:b2"}]},
                "context": {"ex": "http://example.org/"},
            }
        )
    )
    _one_line_exit_2(
        capsys,
        ["template", "expand", str(TEMPLATES / "attribution.json"), str(product)],
        "would be instantiated 6 times",
    )


def _linked_template(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "t.provn"
    path.write_text(
        PROLOGUE + "  bundle ex:b\n" + body + "\n    wasAttributedTo(var:b, var:a)\n  endBundle\nendDocument\n"
    )
    return path


def test_tmpl_linked_to_itself_is_refused(tmp_path, capsys):
    template = _linked_template(
        tmp_path, "    agent(var:a, [tmpl:linked='var:a'])\n    entity(var:b)"
    )
    bindings = str(TEMPLATES / "attribution-bindings.json")
    _one_line_exit_2(capsys, ["template", "expand", str(template), bindings], "links var:a to itself")
    data = json.loads((TEMPLATES / "attribution-bindings.json").read_text())
    data["linked"] = {"var:a": "var:a"}
    with pytest.raises(BadInput, match="links var:a to itself"):
        expand(load_template(TEMPLATES / "attribution.json"), data)


def test_a_cycle_in_tmpl_linked_is_one_group_as_in_provtoolbox(tmp_path):
    # var:a -> var:b -> var:a: ProvToolbox takes the transitive closure; so does docket
    template = _linked_template(
        tmp_path, "    agent(var:a, [tmpl:linked='var:b'])\n    entity(var:b, [tmpl:linked='var:a'])"
    )
    doc = load_template(template)
    assert template_variables(doc)["var:a"] == {"kind": "node", "group": 0, "linked": ["var:b"]}
    expansion = expand(doc, Bindings.load(TEMPLATES / "attribution-linked-bindings.json"), add_order=True)
    assert statements(expansion.document) == EXAMPLE_3


def test_linked_may_not_name_an_attribute_variable():
    data = json.loads((TEMPLATES / "attribution-typed-bindings.json").read_text())
    data["linked"] = {"var:a": "var:c"}
    with pytest.raises(BadInput, match="only variables standing for nodes can be linked"):
        expand(load_template(TEMPLATES / "attribution-typed.json"), data)


@pytest.mark.filterwarnings("ignore:The predicate")  # prov mints a prefix for the bare URIs
def test_from_flag_forces_a_form(tmp_path, capsys):
    path = tmp_path / "b.data"
    path.write_text(
        "<http://openprovenance.org/var#a> a <http://www.w3.org/ns/prov#Entity> ;\n"
        "    <http://openprovenance.org/tmpl#value_0> <http://example.org/ag1> .\n"
    )
    code = main(["template", "bindings", str(path), "--from", "ttl"])
    assert code == 0, capsys.readouterr().err
    converted = json.loads(capsys.readouterr().out)
    assert len(converted["var"]["a"]) == 1 and "@id" in converted["var"]["a"][0]
    _one_line_exit_2(capsys, ["template", "bindings", str(path), "--from", "yaml"], "unknown bindings form")
    _one_line_exit_2(capsys, ["template", "bindings", str(path), "--to", "yaml"], "unknown bindings form")
