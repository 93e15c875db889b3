"""``docket demo``: an end-to-end run on the shipped examples that a newcomer can read.

Each stage prints the command a data manager would type for it, then what docket answered, so the
output doubles as a tour of the workflow: init (which makes the admin account), a reviewer's
account, submit (a provider on the public page gets a secret link), review (request changes on a
field, the provider revises through their link, approve), transfer, the QA notebook, publication
(validated metadata exports and the instance's own persistent URL: a demo has no DOI registry),
search over what was published, an archival package with its fixity re-checked, history and the
request's provenance in every export format.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from docket.api import Docket
from docket.provenance.export import FORMATS
from docket.resources import data_dir
from docket.search import search

#: What the demo publishes: every export that needs no DOI registry (DataCite XML needs a DOI,
#: hence a ``[datacite]`` prefix; a data centre with one adds ``datacite`` to this list).
DEMO_FORMATS = ["iso19139", "eml", "schemaorg", "dcat"]

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
    with open(root / "docket.toml", "a", encoding="utf-8") as toml:
        toml.write("\n[publication]\nformats = [" + ", ".join(f'"{f}"' for f in DEMO_FORMATS) + "]\n")
    docket.close()
    docket = Docket.open(root)  # with the [publication] settings just written
    say(f"   instance {docket.instance.root}, store {docket.store.dialect}")
    ids: dict[str, str] = {}
    try:
        _stage(say, "The admin adds a reviewer; the key is shown once",
               "docket user add 'Dr. Eva Novak' --email eva.novak@datacentre.example.org --role reviewer")
        eva = docket.add_user("Dr. Eva Novak", "reviewer", email="eva.novak@datacentre.example.org")
        reviewer = docket.as_key(eva["key"])
        say(f"   key {eva['key'][:16]}... (docket user list shows only its prefix from now on)")
        provider_links: dict[str, str] = {}
        for path in sorted((examples / "requests").glob("*.json")):
            _stage(say, f"A provider submits {path.name} on the public form", f"docket submit {path.name}")
            result = docket.anonymously().submit(path)
            ids[path.stem] = result["id"]
            provider_links[result["id"]] = result["link"]
            say(f"   -> {result['id']} (revision 1, digest {result['digest'][:12]}...); "
                f"the provider's link: {result['link_url'][:48]}...")

        _stage(say, "List what waits for review", "docket list --status submitted")
        for row in docket.list(status="submitted"):
            say(f"   {row['id']:<12} {row['title'][:70]}")

        soil = ids.get("soil-several-files")
        if soil:
            field = "$.metadata.dataset_administrative.contact.orcid"
            _stage(say, "The reviewer asks for a change, on one field",
                   f"docket --key-file eva.key review {soil} request-changes -m '...' --field '{field}'")
            reviewer.review(soil, "request-changes", comment="Please give the ORCID iD of the contact.",
                            fields=[field])
            say(f"   {soil}: back in draft, the comment attached to {field}")
            _stage(say, "The provider opens their link, edits and resubmits", "(the form page, ?link=...)")
            provider = docket.as_link(provider_links[soil])
            doc = provider.get(soil)
            edited = {k: doc[k] for k in ("project", "provider", "metadata", "files")}
            edited["metadata"]["dataset_administrative"]["contact"]["orcid"] = "0000-0002-9079-593X"
            revised = provider.revise(soil, edited)
            provider.comment(soil, "Added the ORCID iD.", reply_to=provider.comments(soil)[0]["id"])
            say(f"   {soil}.{revised['revision']} stored; revision 1 is kept unchanged")
            provider.review(soil, "submitted")
            changed = ", ".join(c["path"] for c in reviewer.diff(soil)["changes"])
            say(f"   the reviewer's diff of {soil}.1 -> {soil}.{revised['revision']}: {changed}")
        for request_id in ids.values():
            _stage(say, f"The reviewer approves {request_id}",
                   f"docket --key-file eva.key review {request_id} approved")
            reviewer.review(request_id, "approved", comment="Complete and consistent.")
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

        for request_id in ids.values():
            _stage(say, f"Publish {request_id}", f"docket publish {request_id}")
            published = docket.publish(request_id)
            say(f"   version {published['version']}: {published['identifier']} ({published['identifier_type']})")
            for export in published["exports"]:
                validity = "valid" if export["validated"] else "NOT VALIDATED"
                say(f"   {export['format']:<10} {Path(export['path']).name:<36} {validity}")
            for warning in published["warnings"]:
                say(f"   warning: {warning}"[:140])

        _stage(say, "Search what was published", "docket search 'temperature'")
        for hit in search(docket, "temperature"):
            snippet = hit["snippet"].replace("\n", " ")
            say(f"   {hit['id']:<12} {hit['field']:<24} {snippet}"[:140])

        first = next(iter(ids.values()))
        _stage(say, f"Archive {first} (BagIt + RO-Crate) and re-check its fixity",
               f"docket archive {first} && docket archive verify {first}")
        archived = docket.archive(first)
        size = sum(f["bytes"] for f in archived["files"])
        say(f"   {archived['location']}  ({len(archived['files'])} files, {size} bytes, Payload-Oxum {archived['bag_oxum']})")
        verified = docket.verify_archive(first)
        say(f"   fixity: {verified['ok']} of {verified['checked']} bags intact")

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
