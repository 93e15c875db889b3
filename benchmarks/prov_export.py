"""Time every PROV export format once on a request document of about 200 records.

Run: ``python benchmarks/prov_export.py [--files N]``. The document has the shape of a busy
request: submission, transfer of N files (each generated, derived from the request, with
checksums) and a QA run that used every file and wrote a report. It prints one row per format:
bytes written, seconds to write, and seconds to read back where the format can be read.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

from prov.model import PROV, ProvDocument

from docket.provenance import export


def request_document(files: int) -> ProvDocument:
    doc = ProvDocument()
    doc.add_namespace("docket", "https://data.example.org/docket/")
    doc.add_namespace("orcid", "https://orcid.org/")
    t0 = dt.datetime(2024, 5, 2, 9, 30, tzinfo=dt.UTC)
    software = "docket:software/docket"

    sub = doc.bundle("docket:ocean-0007/bundle/submission/1")
    act = sub.activity("docket:ocean-0007/submission/1", t0, t0 + dt.timedelta(minutes=3))
    person = sub.agent("orcid:0000-0002-1825-0097", {"prov:type": PROV["Person"]})
    sub.agent(software, {"prov:type": PROV["SoftwareAgent"], "docket:version": "0.1.0"})
    plan = sub.entity("docket:plan/submission", {"prov:type": PROV["Plan"]})
    form = sub.entity("docket:ocean-0007/form/1", {"docket:sha256": "ab" * 32})
    request = sub.entity("docket:ocean-0007/request/1")
    sub.used(act, form, t0)
    sub.wasGeneratedBy(request, act, t0 + dt.timedelta(minutes=3))
    sub.wasDerivedFrom(request, form)
    sub.wasAssociatedWith(act, person, plan)
    sub.wasAssociatedWith(act, software)

    tr = doc.bundle("docket:ocean-0007/bundle/transfer/1")
    t1 = t0 + dt.timedelta(hours=1)
    transfer = tr.activity("docket:ocean-0007/transfer/1", t1, t1 + dt.timedelta(minutes=10))
    tr.used(transfer, request, t1)
    tr.wasAssociatedWith(transfer, software)
    qa = doc.bundle("docket:ocean-0007/bundle/qa/1")
    t2 = t1 + dt.timedelta(hours=1)
    run = qa.activity("docket:ocean-0007/qa/1", t2, t2 + dt.timedelta(minutes=5))
    qa.wasAssociatedWith(run, software, "docket:plan/qa-notebook")
    for i in range(files):
        name = f"docket:ocean-0007/file/cast-{i:03d}.csv"
        tr.entity(
            name,
            {"docket:sha256": f"{i:064x}", "docket:size": 10_000 + i, "prov:label": name[-12:]},
        )
        tr.wasGeneratedBy(name, transfer, t1 + dt.timedelta(seconds=i))
        tr.wasDerivedFrom(name, request)
        qa.used(run, name, t2)
    report = qa.entity("docket:ocean-0007/qa/1/report", {"docket:errors": 0, "docket:warnings": 3})
    qa.wasGeneratedBy(report, run, t2 + dt.timedelta(minutes=5))
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=45, help="files transferred (4 records each)")
    args = parser.parse_args()
    doc = request_document(args.files)
    records = len(list(doc.flattened().get_records()))
    print(f"request document: {records} records in {len(doc.bundles)} bundles")
    # One untimed pass on a small document, so that module imports are not counted as work.
    small = request_document(1)
    for fmt in export.FORMATS:
        data = export.serialize(small, fmt)
        if export.get(fmt).readable:
            export.deserialize(data, fmt)
    print(f"{'format':<8} {'bytes':>9} {'write s':>9} {'read s':>9}")
    for fmt in export.FORMATS:
        start = time.perf_counter()
        data = export.serialize(doc, fmt)
        written = time.perf_counter() - start
        read = "-"
        if export.get(fmt).readable:
            start = time.perf_counter()
            export.deserialize(data, fmt)
            read = f"{time.perf_counter() - start:.3f}"
        print(f"{fmt:<8} {len(data):>9} {written:>9.3f} {read:>9}")


if __name__ == "__main__":
    main()
