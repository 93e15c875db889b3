"""Import N generated EML 2.2 records with ``docket import-metadata``'s code: records per second
(issue 13, Speed).

Run: ``python benchmarks/import_metadata.py [--records 1000] [--keep DIR]``. N EML 2.2 records
are generated (titles, abstracts, people, keywords, coverage vary by record; one ``dataTable``
with a few attributes whose data file is named by a ``distribution`` URL, so no data files are
needed) into the inbox of a new SQLite instance in a temporary folder, then imported in one
call of :func:`docket.metadata_import.importer.import_metadata` (read, vet with defusedxml, map,
validate every record, then store each as a draft), as the command does.

Why the lxml baseline: most of a record's cost could be XML parsing, which docket cannot make
faster; a plain ``lxml.etree.fromstring`` of the same bytes in the same run gives the floor, and
the ratio says how much the mapping, validation and store add to it.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from lxml import etree

import docket
from docket.metadata_import.importer import import_metadata

ROOT = Path(__file__).resolve().parents[1]

GIVEN = ["Ana", "Tom", "Ines", "Kofi", "Mei", "Lars", "Priya", "Diego", "Sara", "Yusuf"]
FAMILY = ["Lopes", "Berg", "Okafor", "Tanaka", "Novak", "Silva", "Haddad", "Moreau", "Kim", "Weber"]
SUBJECTS = ["stream chemistry", "soil respiration", "phytoplankton counts", "snow depth",
            "bird point counts", "leaf litter decomposition", "groundwater levels", "canopy cover"]
PLACES = ["Hubbard Brook", "Konza Prairie", "Niwot Ridge", "Harvard Forest", "Coweeta", "Sevilleta"]
WORDS = ["samples", "were", "taken", "at", "fixed", "stations", "each", "month", "and", "analysed",
         "in", "the", "laboratory", "using", "standard", "methods", "with", "blanks", "duplicates",
         "for", "quality", "control", "while", "field", "notes", "record", "weather", "flow", "any",
         "disturbance", "near", "site"]


def eml_record(i: int, rng: random.Random) -> str:
    """One EML 2.2 record, varied by ``i``: two creators, a contact, keywords, coverage, licence
    and a dataTable of four attributes whose file is at a distribution URL."""
    subject, place = SUBJECTS[i % len(SUBJECTS)], PLACES[i % len(PLACES)]
    people = [(rng.choice(GIVEN), rng.choice(FAMILY)) for _ in range(2)]
    abstract = " ".join(rng.choice(WORDS) for _ in range(40 + i % 30))
    year = 1990 + i % 30
    west = round(-120 + (i % 50), 2)
    south = round(30 + (i % 20) * 0.5, 2)
    creators = "".join(
        f"<creator><individualName><givenName>{g}</givenName><surName>{f}</surName></individualName>"
        f"<organizationName>{place} LTER</organizationName>"
        f"<electronicMailAddress>{g.lower()}.{f.lower()}{i}@lter.example.org</electronicMailAddress></creator>"
        for g, f in people)
    g, f = people[0]
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<eml:eml xmlns:eml="https://eml.ecoinformatics.org/eml-2.2.0" packageId="bench.{i}.1" system="bench">
  <dataset>
    <title xml:lang="en">{subject.capitalize()} at {place}, {year}, series {i}</title>
    {creators}
    <language>eng</language>
    <abstract xml:lang="en"><para>{subject.capitalize()} at {place} in {year}: {abstract}.</para></abstract>
    <keywordSet><keyword>{subject}</keyword><keyword>{place}</keyword><keyword>long-term monitoring</keyword></keywordSet>
    <licensed><licenseName>Creative Commons Attribution 4.0 International</licenseName>
      <identifier>CC-BY-4.0</identifier></licensed>
    <coverage>
      <geographicCoverage><geographicDescription>{place}</geographicDescription>
        <boundingCoordinates><westBoundingCoordinate>{west}</westBoundingCoordinate>
          <eastBoundingCoordinate>{west + 0.5}</eastBoundingCoordinate>
          <northBoundingCoordinate>{south + 0.5}</northBoundingCoordinate>
          <southBoundingCoordinate>{south}</southBoundingCoordinate></boundingCoordinates></geographicCoverage>
      <temporalCoverage><rangeOfDates><beginDate><calendarDate>{year}-01-01</calendarDate></beginDate>
        <endDate><calendarDate>{year}-12-31</calendarDate></endDate></rangeOfDates></temporalCoverage>
    </coverage>
    <contact><individualName><givenName>{g}</givenName><surName>{f}</surName></individualName>
      <electronicMailAddress>{g.lower()}.{f.lower()}{i}@lter.example.org</electronicMailAddress></contact>
    <dataTable>
      <entityName>series_{i}</entityName>
      <physical>
        <objectName>series_{i}.csv</objectName>
        <size unit="byte">{1000 + i}</size>
        <dataFormat><textFormat><numHeaderLines>1</numHeaderLines>
          <attributeOrientation>column</attributeOrientation>
          <simpleDelimited><fieldDelimiter>,</fieldDelimiter></simpleDelimited></textFormat></dataFormat>
        <distribution><online><url function="download">https://data.example.org/bench/series_{i}.csv</url></online></distribution>
      </physical>
      <attributeList>
        <attribute><attributeName>site</attributeName><attributeDefinition>Station code</attributeDefinition>
          <measurementScale><nominal><nonNumericDomain><textDomain><definition>station code</definition>
          </textDomain></nonNumericDomain></nominal></measurementScale></attribute>
        <attribute><attributeName>date</attributeName><attributeDefinition>Date of sampling</attributeDefinition>
          <measurementScale><dateTime><formatString>YYYY-MM-DD</formatString></dateTime></measurementScale></attribute>
        <attribute><attributeName>value</attributeName><attributeDefinition>Measured {subject}</attributeDefinition>
          <measurementScale><ratio><unit><standardUnit>dimensionless</standardUnit></unit>
          <numericDomain><numberType>real</numberType></numericDomain></ratio></measurementScale></attribute>
        <attribute><attributeName>flag</attributeName><attributeDefinition>Quality flag</attributeDefinition>
          <measurementScale><nominal><nonNumericDomain><enumeratedDomain>
            <codeDefinition><code>ok</code><definition>passed QC</definition></codeDefinition>
            <codeDefinition><code>suspect</code><definition>failed a QC test</definition></codeDefinition>
          </enumeratedDomain></nonNumericDomain></nominal></measurementScale></attribute>
      </attributeList>
      <numberOfRecords>{100 + i}</numberOfRecords>
    </dataTable>
  </dataset>
</eml:eml>
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="build the instance here and keep it")
    args = parser.parse_args()
    rng = random.Random(13)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp) / "inst"
        docket.init(folder, project="ocean", base_uri="https://data.example.org/ocean/",
                    local_roots=["inbox"]).close()
        source = folder / "inbox" / "eml"
        source.mkdir(parents=True)
        blobs = []
        for i in range(args.records):
            text = eml_record(i, rng)
            (source / f"record_{i:05d}.xml").write_text(text, encoding="utf-8")
            blobs.append(text.encode("utf-8"))

        start = time.perf_counter()
        for blob in blobs:
            etree.fromstring(blob)
        parse = time.perf_counter() - start

        d = docket.open(folder)
        try:
            start = time.perf_counter()
            report = import_metadata(d, [str(source)])
            took = time.perf_counter() - start
            stored = len(d.list())
        finally:
            d.close()
        summary = report.as_dict()
        if summary["refused"] or summary["imported"] != args.records or stored != args.records:
            refused = next((o.message for o in report.outcomes if o.status == "refused"), "")
            raise SystemExit(f"import failed: {summary['imported']} imported, {summary['refused']} "
                             f"refused, {stored} stored; {refused}")
        size = sum(len(b) for b in blobs)
        print(f"{args.records} EML 2.2 records, {size / 1e6:.1f} MB, {len(report.outcomes[0].unmapped)} "
              "unmapped paths in the first")
        print(f"import-metadata: {took:.2f} s, {args.records / took:,.0f} records/s")
        print(f"lxml.etree.fromstring: {parse:.3f} s, {args.records / parse:,.0f} records/s")
        print(f"ratio (import / bare parse): {took / parse:,.0f}x")


if __name__ == "__main__":
    main()
