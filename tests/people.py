"""Acting as real people in tests: accounts of each role, made once per instance.

The role of a caller comes from an account, never a flag; tests that need a reviewer or a
provider make one with the instance's admin (the key ``docket init`` wrote) and act with its key.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from docket.api import Docket

_keys: dict[tuple[str, str], str] = {}


def key_for(dk: Docket, role: str, name: str | None = None, email: str | None = None,
            orcid: str | None = None) -> str:
    """The API key of an account ``name`` with ``role`` on ``dk``'s instance (made on first use)."""
    name = name or {"reviewer": "Eva Novak", "data-manager": "Maria Data", "provider": "Chiara Rossi",
                    "admin": "Ada Admin"}[role]
    cache = (str(dk.instance.root) + "|" + str(dk.config.store_schema), name)
    if cache not in _keys:
        admin = dk.anonymously()._as((None, None, False))  # the instance's own admin key file
        _keys[cache] = admin.add_user(name, role, email=email, orcid=orcid)["key"]
    return _keys[cache]


def as_role(dk: Docket, role: str, name: str | None = None, email: str | None = None,
            orcid: str | None = None) -> Docket:
    """``dk``'s instance, called by the account ``name`` with ``role``."""
    return dk.as_key(key_for(dk, role, name, email, orcid))


def key_file(instance: Path, role: str, name: str | None = None, email: str | None = None) -> Path:
    """A private key file for an account of ``role`` on the instance at ``instance`` (via the CLI)."""
    from tests.clirun import docket_cli

    name = name or {"reviewer": "Eva Novak", "data-manager": "Maria Data", "provider": "Chiara Rossi",
                    "admin": "Ada Admin"}[role]
    path = instance / "keys" / f"{name.replace(' ', '_')}.key"
    if not path.exists():
        args = ["user", "add", name, "--role", role, "--json"] + (["--email", email] if email else [])
        result = docket_cli(*args, instance=instance)
        assert result.code == 0, result.err
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(json.loads(result.out)["key"])
    return path
