"""EML 2.2's translations (``<value xml:lang>``) on import: a title's become its other languages, and
those that translate part of an abstract or a keyword are listed as not mapped, never run into the
text they translate (before, ``Stream ... 2021 Chimie ...`` was one title in one language).

The EML package of examples/ is given the translations the EML 2.2 schema allows (i18nString: the
element's own text in its ``xml:lang``, then ``<value xml:lang="..">`` children), validated against
the official EML 2.2.0 XSD where ../shared/xsd is at hand, then imported through the command line.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lxml import etree

import docket
from tests.clirun import docket_cli

ROOT = Path(__file__).resolve().parent.parent
EML_DIR = ROOT / "examples" / "metadata" / "eml-stream-chemistry"
EML_XSD = ROOT.parent / "shared" / "xsd" / "eml-2.2.0" / "eml.xsd"
TITLE_FR = "Chimie de l'eau de trois bassins versants de tête, printemps 2021"
PARA_FR = "les nitrates"


def translated_package(inbox: Path) -> Path:
    """The example package with a French title, a translated keyword and a translated phrase."""
    target = inbox / "i18n"
    shutil.copytree(EML_DIR, target)
    eml = target / "eml.xml"
    tree = etree.parse(str(eml))
    dataset = tree.getroot().find("dataset")
    title = dataset.find("title")
    etree.SubElement(title, "value", {"{http://www.w3.org/XML/1998/namespace}lang": "fr"}).text = TITLE_FR
    keyword = dataset.find("keywordSet/keyword[2]")
    etree.SubElement(keyword, "value", {"{http://www.w3.org/XML/1998/namespace}lang": "fr"}).text = "nitrate (fr)"
    para = dataset.find("abstract/para")
    etree.SubElement(para, "value", {"{http://www.w3.org/XML/1998/namespace}lang": "fr"}).text = PARA_FR
    tree.write(str(eml), xml_declaration=True, encoding="UTF-8")
    return target


def test_translations_are_languages_or_listed_never_merged(tmp_path: Path) -> None:
    folder = tmp_path / "inst"
    docket.init(folder, project="ocean").close()
    package = translated_package(folder / "inbox")
    original = etree.parse(str(EML_DIR / "eml.xml")).getroot().find("dataset")
    if EML_XSD.exists():  # the record is valid EML 2.2.0 as changed
        schema = etree.XMLSchema(etree.parse(str(EML_XSD)))
        assert schema.validate(etree.parse(str(package / "eml.xml"))), schema.error_log
    result = docket_cli("import-metadata", package, "--json", instance=folder)
    assert result.code == 0, result.err + result.out
    (entry,) = result.json()["files"]
    with docket.open(folder) as d:
        doc = d.get(entry["id"])
    descriptive = doc["metadata"]["project_descriptive"]
    english = " ".join(original.findtext("title").split())
    assert descriptive["title"] == {"en": english, "fr": TITLE_FR}
    keywords = [" ".join(k.text.split()) for k in original.findall("keywordSet/keyword")]
    assert descriptive["keywords"] == keywords  # "nitrate", not "nitrate nitrate (fr)"
    abstract = descriptive["abstract"]
    assert PARA_FR not in str(abstract) and "(fr)" not in str(doc)
    assert abstract["en"] == " ".join("".join(original.find("abstract").itertext()).split())
    assert "/eml:eml/dataset/abstract/para/value" in entry["unmapped"]
    assert "/eml:eml/dataset/keywordSet/keyword[2]/value" in entry["unmapped"]
    assert not any(p.startswith("/eml:eml/dataset/title") for p in entry["unmapped"])


@pytest.mark.parametrize("where", ["title", "keywordSet/keyword[1]"])
def test_a_value_without_language_is_the_text_itself(tmp_path: Path, where: str) -> None:
    """``<title><value>Text</value></title>`` (EML 2.2 allows it) is the title, not nothing."""
    folder = tmp_path / "inst"
    docket.init(folder, project="ocean").close()
    target = folder / "inbox" / "plain"
    shutil.copytree(EML_DIR, target)
    tree = etree.parse(str(target / "eml.xml"))
    el = tree.getroot().find(f"dataset/{where}")
    words = " ".join(el.text.split())
    el.text = None
    etree.SubElement(el, "value").text = words
    tree.write(str(target / "eml.xml"), xml_declaration=True, encoding="UTF-8")
    result = docket_cli("import-metadata", target, "--json", instance=folder)
    assert result.code == 0, result.err + result.out
    with docket.open(folder) as d:
        doc = d.get(result.json()["files"][0]["id"])
    descriptive = doc["metadata"]["project_descriptive"]
    assert words in (descriptive["title"].values() if isinstance(descriptive["title"], dict)
                     else [descriptive["title"]]) or words in descriptive["keywords"]
