"""Vocabularies (issue 12, item 4): SPDX licences, keyword thesauri, UDUNITS-2 units.

Through the public interfaces: the library (``docket.vocabularies``), the QA checks
(``docket.checks.check_request``), the rendered form (``FormView``), and the rule that a licence
not on the SPDX list needs a reviewer's acceptance, driven through the real ``docket`` command line
on a real store, its refusal, acceptance and record (history, audit, PROV) read back.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import rdflib
from rdflib.namespace import RDF

import docket
from docket.checks import check_request
from docket.errors import InstanceError
from docket.forms.definition import load_form
from docket.forms.renderer import FormView
from docket.forms.vocab_fields import KeywordsField, LicenceField, UnitField, use_thesaurus
from docket.instance import Instance
from docket.vocabularies import spdx, thesaurus, units

from .clirun import docket_cli
from .conftest import EXAMPLES
from .people import as_role, key_file

SAMPLE_TTL = EXAMPLES / "vocabularies" / "science-keywords.ttl"
SAMPLE_CSV = EXAMPLES / "vocabularies" / "science-keywords.csv"
REQUEST = EXAMPLES / "requests" / "weather-table-schema.json"
OTHER = "Licence ouverte de la Ville de Brest, version 2"
DKT = rdflib.Namespace("https://w3id.org/docket/ns#")
SKOS_HEAD = "@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n@prefix ex: <https://ex.org/> .\n"


# --------------------------------------------------------------------------- SPDX

def test_spdx_lookup_recognises_ids_names_and_licence_urls() -> None:
    assert spdx.lookup("CC-BY-4.0").name == "Creative Commons Attribution 4.0 International"
    assert spdx.lookup("cc-by-4.0").id == "CC-BY-4.0"  # SPDX ids match whatever the case
    assert spdx.lookup("  Open   Government Licence - Canada ").id == "OGL-Canada-2.0"  # the full name
    assert spdx.lookup("https://creativecommons.org/licenses/by/3.0/").id == "CC-BY-3.0"
    assert spdx.lookup("http://creativecommons.org/licenses/by-nc-sa/4.0/legalcode").id == "CC-BY-NC-SA-4.0"
    assert spdx.lookup("https://creativecommons.org/publicdomain/zero/1.0/").id == "CC0-1.0"
    assert spdx.lookup("https://spdx.org/licenses/ODbL-1.0.html").id == "ODbL-1.0"
    assert spdx.lookup("GPL-2.0").deprecated  # a deprecated id is still an SPDX licence
    for other in (OTHER, "https://example.org/my-licence", "CC-BY-4.0 please", "", None, 42, "x" * 10_000,
                  "https://creativecommons.org/licenses/by/9.9/"):
        assert spdx.lookup(other) is None and not spdx.is_spdx(other), other
    assert "not on the SPDX licence list" in spdx.describe(OTHER)


def test_spdx_pick_list_has_data_licences_first_and_the_whole_list() -> None:
    choices = spdx.choices()
    assert choices[:4] == ("CC-BY-4.0", "CC0-1.0", "CC-BY-SA-4.0", "ODbL-1.0")
    assert len(choices) > 600 and len(set(choices)) == len(choices)
    assert {"MIT", "Apache-2.0", "OGL-UK-3.0"} <= set(choices) and "GPL-2.0" not in choices  # deprecated
    assert spdx.list_version().startswith("3.")


# --------------------------------------------------------------------------- thesauri

def test_skos_thesaurus_gives_labels_per_language_and_synonyms() -> None:
    t = thesaurus.load(SAMPLE_TTL)
    assert t.title == "Science keywords (docket example)"
    assert len(t.concepts) >= 40
    sst = t.find("sst")  # an altLabel finds its concept, any case
    assert sst is not None and sst.uri == "https://vocab.example.org/science-keywords/sea-surface-temperature"
    assert sst.label("fr") == "Température de surface de la mer" and sst.label("de-CH") == "Meeresoberflächentemperatur"
    assert sst.label("es") == "Sea surface temperature"  # no Spanish label: the English one
    english = dict(t.suggestions("en"))
    assert english["SST → Sea surface temperature"] == "Sea surface temperature"
    assert english["Salinity"] == "Salinity"
    assert "Salinité" in dict(t.suggestions("fr")) and "Salinité" not in english


def test_rdf_xml_and_csv_thesauri(tmp_path: Path) -> None:
    rdf = tmp_path / "gemet.rdf"
    rdf.write_text("""<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:skos="http://www.w3.org/2004/02/skos/core#">
  <skos:Concept rdf:about="http://www.eionet.europa.eu/gemet/concept/7419">
    <skos:prefLabel xml:lang="en">sea water</skos:prefLabel>
    <skos:prefLabel xml:lang="fr">eau de mer</skos:prefLabel>
    <skos:altLabel xml:lang="en">seawater</skos:altLabel>
  </skos:Concept>
</rdf:RDF>""", encoding="utf-8")
    t = thesaurus.load(rdf)
    assert t.title == "gemet" and t.find("SEAWATER").label("fr") == "eau de mer"
    csv = thesaurus.load(SAMPLE_CSV)
    assert len(csv.concepts) == 12
    oxygen = csv.find("Chl-a")
    assert oxygen.label("de") == "Chlorophyll" and "Chl-a" in oxygen.words("en")
    plain = tmp_path / "plain.csv"
    plain.write_text("CTD\nMooring\n\nMooring,en\n# a comment\n", encoding="utf-8")
    assert [c.label("en") for c in thesaurus.load(plain).concepts] == ["CTD", "Mooring", "Mooring"]


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("broken.ttl", SKOS_HEAD + 'ex:a a skos:Concept ;\n  skos:prefLabel "A"@en\nex:b a skos:Concept .\n',
     "thesaurus broken.ttl, line 5: not valid Turtle"),
    ("broken.rdf", '<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
                   '<rdf:Description rdf:about="http://x/a">\n<oops>\n</rdf:RDF>\n',
     "thesaurus broken.rdf, line 5: not valid RDF/XML"),
    ("bomb.rdf", '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">]>\n<r>&a;</r>\n',
     "thesaurus bomb.rdf: XML entity declarations are not accepted"),
    ("twice.ttl", SKOS_HEAD + 'ex:a a skos:Concept ; skos:prefLabel "Ocean"@en, "Sea"@en .\n',
     "concept <https://ex.org/a> has two skos:prefLabel in en ('Ocean' and 'Sea')"),
    ("resource.ttl", SKOS_HEAD + "ex:a a skos:Concept ; skos:prefLabel ex:b .\n",
     "the triple <https://ex.org/a> skos:prefLabel <https://ex.org/b>: a label must be a literal"),
    ("none.ttl", SKOS_HEAD + 'ex:a skos:prefLabel "no concept type"@en .\n',
     "thesaurus none.ttl: no skos:Concept with a skos:prefLabel"),
    ("columns.csv", "label,language,uri\nOcean,en,https://ex.org/o,extra\n",
     "thesaurus columns.csv, line 2: 4 columns; a row is label[,language][,uri]"),
    ("lang.csv", "Ocean,english\n", "thesaurus lang.csv, line 1: 'english' is not a language code"),
    ("uri.csv", "Ocean,en,not a uri\n", "thesaurus uri.csv, line 1: 'not a uri' is not an absolute URI"),
    ("blank.csv", "Ocean\n,en\n", "thesaurus blank.csv, line 2: the label is empty"),
    ("latin1.csv", b"Ocean\nMer\n\xe9t\xe9\n", "thesaurus latin1.csv, line 3: not UTF-8 text"),
    ("empty.csv", "", "thesaurus empty.csv: no label rows"),
    ("thesaurus.json", "{}", "thesaurus thesaurus.json: unknown kind of file '.json'"),
])
def test_a_bad_thesaurus_is_named_with_its_line_or_triple(tmp_path: Path, name: str, content: Any,
                                                          expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    with pytest.raises(InstanceError) as caught:
        thesaurus.load(path)
    assert expected in caught.value.message


def test_a_thesaurus_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.csv"
    path.write_text("".join(f"keyword {i}\n" for i in range(2000)), encoding="utf-8")
    monkeypatch.setattr(thesaurus, "MAX_BYTES", 1000)
    with pytest.raises(InstanceError, match=r"thesaurus big.csv: larger than"):
        thesaurus.load(path)
    monkeypatch.setattr(thesaurus, "MAX_BYTES", 10**6)
    monkeypatch.setattr(thesaurus, "MAX_CONCEPTS", 100)
    with pytest.raises(InstanceError, match=r"thesaurus big.csv: more than 100 concepts"):
        thesaurus.load(path)
    long = tmp_path / "long.csv"
    long.write_text("Ocean\n" + "x" * 101 + "\n", encoding="utf-8")  # longer than a keyword may be: left out
    assert [c.label("en") for c in thesaurus.load(long).concepts] == ["Ocean"]


def test_the_instance_names_its_thesaurus_in_docket_toml(tmp_path: Path) -> None:
    folder = tmp_path / "inst"
    docket.init(folder, project="ocean").close()
    assert thesaurus.configured(Instance.find(folder)) is None
    (folder / "vocabularies").mkdir()
    (folder / "vocabularies" / "kw.ttl").write_bytes(SAMPLE_TTL.read_bytes())
    config = folder / "docket.toml"
    base = config.read_text(encoding="utf-8")
    config.write_text(base + '\n[vocabularies]\nkeywords = "vocabularies/kw.ttl"\n', encoding="utf-8")
    found = thesaurus.configured(Instance.find(folder))
    assert found is not None and found.path == (folder / "vocabularies" / "kw.ttl").resolve()
    assert thesaurus.configured(Instance.find(folder)) is found  # read once per version of the file
    for setting, expected in (('keywords = "vocabularies/gone.ttl"', "thesaurus gone.ttl"),
                              ("keywords = 3", "keywords must be the path of a thesaurus file"),
                              ('words = "kw.ttl"', "unknown setting 'words'")):
        config.write_text(base + f"\n[vocabularies]\n{setting}\n", encoding="utf-8")
        with pytest.raises(InstanceError, match=expected):
            thesaurus.configured(Instance.find(folder))


# --------------------------------------------------------------------------- units

def test_units_are_read_by_udunits() -> None:
    for good in ("degC", "m s-1", "umol kg-1", "kg m-3", "dbar", "%", "1", "days since 1970-01-01", "W m-2"):
        verdict = units.check(good)
        assert verdict.ok and verdict.definition, good
    assert units.check("m s-1").definition == "m.s-1"
    for bad, says in (("psu", "'psu' is not a UDUNITS-2 unit"), ("furlongs per fortnightx", "not a UDUNITS-2"),
                      ("\x00", "control characters"), ("m" * 500, "too long"), ("unknown", "names no unit"),
                      ("  ", "empty")):
        verdict = units.check(bad)
        assert not verdict.ok and says in verdict.message, bad
    pick = units.suggestions()
    assert pick[:3] == ("1", "%", "degC") and all(units.check(u).ok for u in units.COMMON)
    assert {"pascal", "metre", "Pa", "kelvin"} <= set(pick) and len(pick) > 300


def _record(licence: Any = "CC-BY-4.0", fields: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"dataset_administrative": {"licence": licence}}
    if fields is not None:
        meta["dataset_structural"] = {"fields": fields}
    return {"metadata": meta, "files": [], **extra}


def test_qa_check_on_units_warns_naming_the_column_and_value() -> None:
    fields = [{"name": "temp", "unit": "degC"}, {"name": "sal", "unit": "psu"}, {"name": "id"}]
    report = check_request(_record(fields=fields), {})
    units_result = report.get("metadata.units")
    assert units_result.family == "metadata" and units_result.status == "warn" and units_result.count == 1
    assert units_result.found == "1 of 2 units unknown to UDUNITS-2 (sal: 'psu')"
    [where] = units_result.locations
    assert (where["column"], where["value"], where["path"]) == ("sal", "psu", "metadata.dataset_structural.fields[1].unit")
    report.validate()
    assert check_request(_record(fields=fields[:1]), {}).get("metadata.units").status == "valid"
    assert check_request(_record(), {}).get("metadata.units").found == "no column declares a unit"
    strict = check_request(_record(fields=fields), {}, severities={"metadata.units": "error"})
    assert strict.get("metadata.units").status == "error"
    package = {"resources": [{"name": "obs", "schema": {"fields": [{"name": "c", "unit": "NTU"}]}}]}
    rec = {"metadata": {"dataset_structural": package}, "files": []}
    assert check_request(rec, {}).get("metadata.units").locations[0]["path"] == \
        "metadata.dataset_structural.resources[0].schema.fields[0].unit"


def test_licence_check_warns_that_a_non_spdx_licence_needs_acceptance() -> None:
    assert check_request(_record("cc0-1.0"), {}).get("metadata.licence").status == "valid"
    waiting = check_request(_record(OTHER, review_state="submitted"), {}).get("metadata.licence")
    assert waiting.status == "warn" and "needs a reviewer's acceptance" in waiting.found
    assert waiting.locations[0]["path"] == "metadata.dataset_administrative.licence"
    accepted = check_request(_record(OTHER, review_state="approved"), {}).get("metadata.licence")
    assert accepted.status == "info" and "accepted it with the approval" in accepted.found
    assert check_request(_record(None), {}).get("metadata.licence").status == "error"  # none at all


# --------------------------------------------------------------------------- the form's fields

def test_form_fields_use_the_vocabularies_and_keep_the_stored_shapes() -> None:
    form = load_form("ingest-request")
    view = FormView(form)
    licence = view.field("metadata.dataset_administrative.licence")
    keywords = view.field("metadata.project_descriptive.keywords")
    assert isinstance(licence, LicenceField) and isinstance(keywords, KeywordsField)
    assert licence.input.options[:2] == ("CC-BY-4.0 — Creative Commons Attribution 4.0 International",
                                         "CC0-1.0 — Creative Commons Zero v1.0 Universal")
    assert not licence.input.ensure_option and len(licence.input.options) > 600
    licence.input.value = "ODbL-1.0 — Open Data Commons Open Database License v1.0"  # picked from the list
    assert licence.input.value == "ODbL-1.0" and licence.value() == "ODbL-1.0"
    licence.input.value = "CC-BY-4.0"
    assert "docket-licence-spdx" in licence.note.value and "Creative Commons Attribution 4.0" in licence.note.value
    licence.input.value = OTHER  # free text stays possible, with its consequence said
    assert "docket-licence-other" in licence.note.value and "reviewer must accept" in licence.note.value
    assert view.data()["metadata"]["dataset_administrative"]["licence"] == OTHER
    assert not [p for p in view.problems if "licence" in p.where]

    assert not keywords.search.options  # no thesaurus: no suggestions, keywords typed freely
    use_thesaurus(view, thesaurus.load(SAMPLE_TTL))
    assert "SST → Sea surface temperature" in keywords.search.options
    keywords.input.value = "CTD casts"
    keywords.search.value = "SST → Sea surface temperature"  # picked from the list
    keywords.search.value = "my own keyword"  # typed and entered: a free keyword
    keywords.search.value = "sea surface temperature"  # already there: not twice
    assert keywords.value() == ["CTD casts", "Sea surface temperature", "my own keyword"]
    assert keywords.search.value == ""
    assert view.data()["metadata"]["project_descriptive"]["keywords"] == keywords.value()  # a list of strings
    assert "Sea surface temperature" in keywords.known.value and "my own keyword" in keywords.known.value
    view.set_language("fr")
    assert "Température de surface de la mer" in keywords.search.options

    columns = view.field("metadata.dataset_structural.fields")
    row = columns.add_row()
    unit = next(f for f in row.walk() if isinstance(f, UnitField))
    assert unit.input.options[:3] == ("1", "%", "degC")
    unit.input.value = "psu"
    assert "docket-unit-unknown" in unit.note.value and "psu" in unit.note.value
    assert not [p for p in view.problems if p.where.endswith(".unit")]  # a warning, never a refusal
    unit.input.value = "m s-1"
    assert "m.s-1" in unit.note.value
    fmt = next(f for f in row.walk() if f.path[-1] == "format")
    assert "%Y-%m-%d" in fmt.input.options and "%Y-%m-%d" in fmt.help_text  # allowed values shown
    access = view.field("metadata.dataset_administrative.access_rights")
    assert [v for _, v in access.input.options][1:] == ["open", "embargoed", "restricted"]


def test_offline_blank_keeps_the_shapes_of_the_vocabulary_fields() -> None:
    blank = load_form("ingest-request").blank()
    assert blank["metadata"]["project_descriptive"]["keywords"] == []
    assert blank["metadata"]["dataset_administrative"]["licence"] == ""


# --------------------------------------------------------------------------- review: licence-accepted

def _submit(folder: Path, licence: str) -> str:
    doc = json.loads(REQUEST.read_text(encoding="utf-8"))
    doc = copy.deepcopy(doc)
    doc["metadata"]["dataset_administrative"]["licence"] = licence
    with docket.open(folder) as dk:
        return as_role(dk, "provider").submit(doc)["id"]


def test_approving_a_non_spdx_licence_needs_the_reviewers_acceptance(instance_dir: Path) -> None:
    reviewer = key_file(instance_dir, "reviewer")
    rid = _submit(instance_dir, OTHER)

    refused = docket_cli("--key-file", reviewer, "review", rid, "approved", instance=instance_dir)
    assert refused.code == 3, refused.err
    assert "licence-accepted" in refused.err and OTHER in refused.err and "--accept-licence" in refused.err
    with docket.open(instance_dir) as dk:
        assert dk.get(rid)["review_state"] == "submitted"  # nothing changed
        assert any(a["action"] == "refused:review" and a["detail"]["rule"] == "licence-accepted" for a in dk.audit(rid))

    wrong = docket_cli("--key-file", reviewer, "review", rid, "rejected", "-m", "no", "--accept-licence",
                       instance=instance_dir)
    assert wrong.code == 2 and "--accept-licence" in wrong.err

    done = docket_cli("--key-file", reviewer, "review", rid, "approved", "--accept-licence", "--json",
                      instance=instance_dir)
    assert done.code == 0, done.err
    assert done.json()["review_state"] == "approved"
    with docket.open(instance_dir) as dk:
        history = dk.history(rid)
        licence_rows = [h for h in history if h["kind"] == "licence"]
        assert [(h["to"], h["comment"], h["actor"]) for h in licence_rows] == [("accepted", OTHER, "Eva Novak")]
        audit = [a for a in dk.audit(rid) if a["action"] == "review" and a["detail"].get("to") == "approved"]
        assert audit[-1]["detail"]["licence_accepted"] == OTHER
        graph = rdflib.Graph().parse(data=dk.export_prov(rid, "ttl"), format="turtle")
        [(decision, value)] = list(graph.subject_objects(DKT.acceptedLicence))
        assert str(value) == OTHER and (decision, RDF.type, DKT.ReviewDecision) in graph
        shown = docket_cli("--key-file", reviewer, "history", rid, "--json", instance=instance_dir)
        assert shown.code == 0 and any(h["kind"] == "licence" for h in shown.json())
        qa_view = check_request(dk.get(rid), {}).get("metadata.licence")
        assert qa_view.status == "info"  # accepted with the approval: no longer a warning


def test_an_spdx_licence_is_approved_as_before(instance_dir: Path) -> None:
    reviewer = key_file(instance_dir, "reviewer")
    rid = _submit(instance_dir, "https://creativecommons.org/licenses/by/4.0/")
    done = docket_cli("--key-file", reviewer, "review", rid, "approved", instance=instance_dir)
    assert done.code == 0, done.err
    second = _submit(instance_dir, "CC-BY-SA-4.0")  # the flag with an SPDX licence: nothing to accept
    assert docket_cli("--key-file", reviewer, "review", second, "approved", "--accept-licence",
                      instance=instance_dir).code == 0
    with docket.open(instance_dir) as dk:
        for ref in (rid, second):
            assert dk.get(ref)["review_state"] == "approved"
            assert not [h for h in dk.history(ref) if h["kind"] == "licence"]
            assert "acceptedLicence" not in dk.export_prov(ref, "ttl").decode("utf-8")


def test_the_review_desk_shows_the_licence_and_asks_for_the_acceptance(instance_dir: Path) -> None:
    from docket.desk.review import ReviewDesk

    rid = _submit(instance_dir, OTHER)
    with docket.open(instance_dir) as dk:
        desk = ReviewDesk(as_role(dk, "reviewer"), rid)
        assert "docket-licence-other" in desk.summary.value and "not on the SPDX licence list" in desk.summary.value
        assert desk.accept_licence.layout.display is None and desk.accept_licence.value is False
        approve = next(a for a in desk.actions if a.to == "approved")
        assert desk.decide(approve) is None  # refused by the core, said on the page
        assert "licence-accepted" in desk.message.value and dk.get(rid)["review_state"] == "submitted"
        desk.accept_licence.value = True
        assert desk.decide(approve)["review_state"] == "approved"
        assert [h["comment"] for h in dk.history(rid) if h["kind"] == "licence"] == [OTHER]
        spdx_id = _submit(instance_dir, "CC0-1.0")
        desk.open(spdx_id)
        assert desk.accept_licence.layout.display == "none" and desk.accept_licence.value is False
        assert "SPDX CC0-1.0" in desk.summary.value


def test_the_served_form_reads_the_instance_thesaurus_and_survives_a_bad_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "inst"
    docket.init(folder, project="ocean").close()
    (folder / "kw.csv").write_text("Ocean\nSea ice\n", encoding="utf-8")
    config = folder / "docket.toml"
    base = config.read_text(encoding="utf-8")
    config.write_text(base + '\n[vocabularies]\nkeywords = "kw.csv"\n', encoding="utf-8")
    monkeypatch.setenv("DOCKET_INSTANCE", str(folder))  # what docket serve gives the page's kernel
    keywords = FormView(load_form("ingest-request")).field("metadata.project_descriptive.keywords")
    assert list(keywords.search.options) == ["Ocean", "Sea ice"] and "search box" in keywords.help_text
    (folder / "kw.csv").write_text("Ocean,english\n", encoding="utf-8")
    keywords = FormView(load_form("ingest-request")).field("metadata.project_descriptive.keywords")
    assert not keywords.search.options and keywords.search.layout.display == "none"
    assert "Suggestions are unavailable (thesaurus kw.csv, line 1: 'english' is not a language code" \
        in keywords.help_text
    keywords.input.value = "Ocean, my own"
    assert keywords.value() == ["Ocean", "my own"]  # typed keywords work as before
