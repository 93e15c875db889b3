"""Shared by the offline-form tests: running the CLI in-process, filling forms, building mail."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as policy
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

import docket
from docket.offline.envelope import seal
from docket.store import tables
from tests.clirun import Result, docket_cli
from tests.conftest import EXAMPLES


def cli(*args: str | Path, instance: Path | None = None) -> Result:
    """``docket ARGS`` in this process (fast), capturing what it prints."""
    return docket_cli(*args, instance=instance)


def row_counts(instance: Path) -> dict[str, int]:
    with docket.open(instance) as d, d.store.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in tables.metadata.sorted_tables}


def request_data(name: str = "soil-several-files") -> dict:
    """An example request with URL locations (meaningful from anywhere, e-mail included)."""
    doc = json.loads((EXAMPLES / "requests" / f"{name}.json").read_text(encoding="utf-8"))
    for f in doc["files"]:
        f["location"] = f"https://data.example.org/incoming/{f['name']}"
    return doc


def export_blank(tmp: Path, instance: Path, name: str = "ingest-request", lang: str = "en",
                 *extra: str) -> dict:
    out = tmp / f"blank-{name}-{lang}.json"
    run = cli("form", "export", name, "--lang", lang, "--output", out, "--force", *extra, instance=instance)
    assert run.code == 0, run.err
    return json.loads(out.read_text(encoding="utf-8"))


def fill(blank: dict, data: dict, sealed: bool = False, **envelope: Any) -> dict:
    """A provider's filling: by hand (the blank's digest kept) or as the notebook saves it."""
    env = {**blank, **envelope, "data": data}
    return seal(env) if sealed else env


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def mail_with(attachments: list[tuple[str, bytes]], subject: str = "Ingest form") -> EmailMessage:
    msg = EmailMessage(policy=policy)
    msg["From"], msg["To"], msg["Subject"] = "Ana <ana@example.org>", "desk@example.org", subject
    msg.set_content("Form attached.\n")
    for name, data in attachments:
        msg.add_attachment(data, maintype="application", subtype="json", filename=name)
    return msg


# -- paths into a JSON value (for mutating forms and requests in the fuzz tests) -----------------


def paths_of(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into ``node`` (the root's is ``()``), depth first."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths_of(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths_of(v, (*prefix, i))
    return out


def get_at(node: Any, path: tuple) -> Any:
    for part in path:
        node = node[part]
    return node


def set_at(doc: Any, path: tuple, value: Any) -> Any:
    """``doc`` with the value at ``path`` replaced (in place); the root path replaces it whole."""
    if not path:
        return value
    get_at(doc, path[:-1])[path[-1]] = value
    return doc


@contextlib.contextmanager
def ram_folder(tmp_path_factory: Any, prefix: str) -> Iterator[Path]:
    """A scratch folder on a RAM file system when there is one (the fuzz tests commit thousands of
    times, and they are about input, not about fsync), else pytest's; removed after."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        root = Path(tempfile.mkdtemp(prefix=prefix, dir=shm))
    else:
        root = tmp_path_factory.mktemp(prefix.strip("-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)
