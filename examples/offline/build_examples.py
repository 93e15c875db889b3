"""Rebuild the filled offline forms in this folder from ../requests (run after a form changes).

    python examples/offline/build_examples.py

Each form is exported exactly as ``docket form export`` does, then filled the way a provider
would: in the notebook (sealed), by hand in an editor (digest of the blank kept), or wrongly.
"""

from __future__ import annotations

import json
import mailbox
from email.message import EmailMessage
from email.policy import default as policy
from pathlib import Path

from docket.forms.definition import load_form
from docket.offline.envelope import seal
from docket.offline.export import export_form

HERE = Path(__file__).resolve().parent
REQUESTS = HERE.parent / "requests"
DESK = "ingest@data.example.org"


def blank(lang: str) -> dict:
    return json.loads(export_form(load_form("ingest-request"), "json", lang))


def request(name: str, online: bool) -> dict:
    doc = json.loads((REQUESTS / f"{name}.json").read_text(encoding="utf-8"))
    for f in doc["files"]:
        # On disk the files are next door (../files); from an e-mail only a URL means anything.
        f["location"] = (f"https://data.example.org/incoming/{f['name']}" if online
                         else f"../files/{f['name']}")
    return doc


def filled(name: str, lang: str, *, online: bool, sealed: bool = True, edit=None) -> dict:
    env = blank(lang)
    env["data"] = request(name, online)
    if edit:
        edit(env["data"])
    return seal(env) if sealed else env


def dump(env: dict) -> str:
    return json.dumps(env, indent=2, ensure_ascii=False) + "\n"


def mail(subject: str, sender: str, body: str, form: dict | None, filename: str) -> EmailMessage:
    msg = EmailMessage(policy=policy)
    msg["From"], msg["To"], msg["Subject"] = sender, DESK, subject
    msg["Date"] = "Mon, 02 Dec 2024 09:30:00 +0100"
    msg["Message-ID"] = f"<{filename.removesuffix('.json')}.{len(subject)}@example.org>"
    msg.set_content(body)
    if form is not None:
        msg.add_attachment(dump(form).encode("utf-8"), maintype="application", subtype="json", filename=filename)
    return msg


def main() -> None:
    # 1. Filled in the notebook, which seals it.
    (HERE / "ctd-survey.json").write_text(dump(filled("ctd-multilingual", "fr", online=False)), encoding="utf-8")
    # 2. Filled by hand in an editor: the digest is still the blank export's.
    (HERE / "soil-sites.json").write_text(
        dump(filled("soil-several-files", "en", online=False, sealed=False)), encoding="utf-8")
    # 3. Altered: sealed, then its data edited in an editor (the keywords changed).
    altered = filled("soil-several-files", "en", online=False,
                     edit=lambda d: d["metadata"]["project_descriptive"].update(title="Topsoil chemistry, corrected"))
    altered["data"]["metadata"]["project_descriptive"]["keywords"].append("edited after saving")
    (HERE / "altered.json").write_text(dump(altered), encoding="utf-8")

    # 4. Invalid: sealed, so not altered, but wrong in three places.
    def spoil(d: dict) -> None:
        d["provider"]["email"] = "jonas.weber(at)soil-lab.example.de"
        del d["metadata"]["dataset_administrative"]["licence"]
        d["metadata"]["experiment_contextual"]["temporal_coverage"] = {"start": "2023-09-30", "end": "2023-04-01"}

    (HERE / "invalid.json").write_text(dump(filled("soil-several-files", "en", online=False, edit=spoil)),
                                       encoding="utf-8")

    maildir = HERE / "mail"
    maildir.mkdir(exist_ok=True)
    # 5. An e-mail with the form attached.
    weather = filled("weather-table-schema", "de", online=True)
    eml = mail("Ingest request: alpine weather 2022", "Lena Huber <lena.huber@example.at>",
               "Hello,\n\nplease find our filled ingest form attached.\n\nLena\n", weather, "weather-2022.json")
    (maildir / "weather-form.eml").write_bytes(eml.as_bytes())
    # 6. The same e-mail forwarded by a colleague (message/rfc822): the same form, so one record.
    fwd = EmailMessage(policy=policy)
    fwd["From"], fwd["To"], fwd["Subject"] = "Desk Assistant <assistant@data.example.org>", DESK, "Fwd: Ingest request"
    fwd.set_content("Forwarding Lena's request.\n")
    fwd.add_attachment(eml)
    (maildir / "forwarded.eml").write_bytes(fwd.as_bytes())

    # 7. A tiny mbox: one message with a form, one without.
    mbox_path = maildir / "inbox.mbox"
    mbox_path.unlink(missing_ok=True)
    ctd2 = filled("ctd-multilingual", "en", online=True,
                  edit=lambda d: d["metadata"]["project_descriptive"]["title"].update(
                      en="CTD casts in the Bay of Biscay, autumn 2024 survey"))
    box = mailbox.mbox(str(mbox_path))
    box.add(mail("CTD autumn survey", "Ana Lima <ana.lima@ifremer.example.org>", "Form attached.\n", ctd2,
                 "ctd-autumn.json"))
    box.add(mail("Question", "Ana Lima <ana.lima@ifremer.example.org>",
                 "Do you accept NetCDF files too?\n", None, "none"))
    box.flush()
    box.close()

    # 8. A Maildir: the form in new/, a plain message (read) in cur/.
    md = maildir / "Maildir"
    for sub in ("new", "cur"):
        (md / sub).mkdir(parents=True, exist_ok=True)
        for old in (md / sub).iterdir():
            old.unlink()
    soil2 = filled("soil-several-files", "de", online=True,
                   edit=lambda d: d["metadata"]["project_descriptive"].update(
                       title="Topsoil chemistry of twenty-five Black Forest sites, 2024 campaign"))
    (md / "new" / "1733130000.M1P1.desk").write_bytes(
        mail("Bodenproben 2024", "Jonas Weber <j.weber@soil-lab.example.de>", "Formular anbei.\n", soil2,
             "soil-2024.json").as_bytes())
    (md / "cur" / "1733120000.M1P2.desk").write_bytes(
        mail("Thanks", "Jonas Weber <j.weber@soil-lab.example.de>", "Thank you for the quick reply.\n", None,
             "none").as_bytes())


if __name__ == "__main__":
    main()
