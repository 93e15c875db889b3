"""Reading request documents from files: JSON that a person wrote, with errors that say where."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from docket.errors import BadInput, NotFound


def load_json_file(path: str | Path, what: str = "file") -> Any:
    """Parse a JSON file; a missing file, bad UTF-8 or bad JSON is a BadInput naming the place."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"{what} {p} does not exist") from None
    except IsADirectoryError:
        raise BadInput(f"{what} {p} is a folder, not a JSON file") from None
    except OSError as exc:
        raise BadInput(f"cannot read {what} {p}: {exc.strerror or exc}") from exc
    return parse_json(raw, str(p))


def parse_json(raw: bytes | str, where: str) -> Any:
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise BadInput(f"{where} is not UTF-8 text (byte {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{where} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
