"""``docket demo``: an end-to-end run on the shipped examples that a newcomer can read.

Each stage prints the command a data manager would type for it, then what docket answered, so the
output doubles as a tour of the workflow: init, submit, review (reject, revise, approve), transfer,
the QA notebook, history and the request's provenance in every export format.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from docket.api import Actor, Docket
from docket.provenance.export import FORMATS
from docket.resources import data_dir

Say = Callable[[str], None]


def _stage(say: Say, title: str, command: str) -> None:
    say("")
    say(f"== {title}")
    say(f"   $ {command}")


def run_demo(folder: str | Path, say: Say = print) -> dict:
    """Run the tour in ``folder`` (created; must not hold an instance yet). Returns a summary."""
    root = Path(folder)
    examples = data_dir("examples")
    _stage(say, "Create an instance (SQLite and local files)", f"docket init {root} --project demo")
    docket = Docket.init(root, project="demo", base_uri="https://data.example.org/demo/",
                         local_roots=["inbox", str(examples)])
    say(f"   instance {docket.instance.root}, store {docket.store.dialect}")
    ids: dict[str, str] = {}
    try:
        for path in sorted((examples / "requests").glob("*.json")):
            _stage(say, f"A provider submits {path.name}", f"docket submit {path.name}")
            result = docket.submit(path)
            ids[path.stem] = result["id"]
            say(f"   -> {result['id']} (revision 1, digest {result['digest'][:12]}...)")

        _stage(say, "List what waits for review", "docket list --status submitted")
        for row in docket.list(status="submitted"):
            say(f"   {row['id']:<12} {row['title'][:70]}")

        reviewer = Actor("Dr. Eva Novak", "reviewer", "eva.novak@datacentre.example.org")
        soil = ids.get("soil-several-files")
        if soil:
            _stage(say, "The reviewer sends one back", f"docket review {soil} rejected -m '...' --role reviewer")
            docket.review(soil, "rejected", actor=reviewer,
                          comment="Please give the ORCID iD of the contact.")
            say(f"   {soil}: rejected, back to the provider")
            _stage(say, "The provider edits it: a new revision in draft", f"docket revise {soil} edited.json")
            doc = docket.get(soil)
            edited = {k: doc[k] for k in ("project", "provider", "metadata", "files")}
            edited["metadata"]["dataset_administrative"]["contact"]["orcid"] = "0000-0002-9079-593X"
            provider = Actor(doc["provider"]["name"], "provider", doc["provider"].get("email"))
            revised = docket.revise(soil, edited, actor=provider)
            say(f"   {soil}.{revised['revision']} stored; revision 1 is kept unchanged")
            docket.review(soil, "submitted", actor=provider)
        for request_id in ids.values():
            _stage(say, f"The reviewer approves {request_id}", f"docket review {request_id} approved --role reviewer")
            docket.review(request_id, "approved", actor=reviewer, comment="Complete and consistent.")
            say(f"   {request_id}: approved")

        for request_id in ids.values():
            _stage(say, f"docket fetches the files of {request_id}", f"docket transfer {request_id}")
            moved = docket.transfer(request_id)
            for f in moved["files"]:
                say(f"   {f['name']:<28} {f['size']:>7} bytes  sha256 {f['sha256'][:16]}...")

        for request_id in ids.values():
            _stage(say, f"The QA notebook checks {request_id}", f"docket qa {request_id}")
            qa = docket.qa(request_id)
            say(f"   {qa['outcome']}: {qa['errors']} errors, {qa['warnings']} warnings; "
                f"executed notebook {qa['executed']}")
            for failing in qa["failing"][:3]:
                say(f"   - {failing['status']:<5} {failing['id']:<28} {failing['file'] or ''} {failing['found'] or ''}"[:110])

        first = next(iter(ids.values()))
        _stage(say, f"History of {soil or first}", f"docket history {soil or first}")
        for h in docket.history(soil or first):
            change = f"{h['from'] or '-'} -> {h['to']}"
            say(f"   {h['at'][:19]}  {h['kind']:<6} {h['step'] or '':<8} {change:<26} {h['actor']}")

        prov_dir = root / "prov"
        prov_dir.mkdir(exist_ok=True)
        _stage(say, f"Provenance of {first} in every format", f"docket prov {first} --format FORMAT")
        for fmt in FORMATS:
            data = docket.export_prov(first, fmt)
            target = prov_dir / f"{first}.{fmt}"
            target.write_bytes(data)
            say(f"   {fmt:<7} {len(data):>8} bytes  {target}")
        bundles = docket.prov_bundles(first)
        say(f"   {len(bundles)} bundles: " + ", ".join(b["bundle_id"] for b in bundles))
    finally:
        docket.close()
    say("")
    say(f"Done. Explore with: docket --instance {root} list")
    return {"instance": str(root), "requests": ids}
