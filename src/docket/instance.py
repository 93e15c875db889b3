"""An instance: the folder a data centre runs docket in, and its ``docket.toml``.

``docket init DIR`` writes the folder; every other command finds it from ``--instance``, else
``$DOCKET_INSTANCE``, else the current folder. Secrets (database and SMTP passwords, the DataCite
password) come from the environment, never from this file.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from docket.errors import BadInput, InstanceError
from docket.limits import DEFAULTS as LIMIT_DEFAULTS
from docket.limits import get as limit

CONFIG_NAME = "docket.toml"
FOLDERS = ("schemas", "forms", "prov_templates", "inbox", "files", "runs")
_SLUG = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
DEFAULT_LANGUAGES = ["en", "fr", "de"]


@dataclass
class Config:
    """The settings of one instance, as read from ``docket.toml``."""

    project: str
    base_uri: str
    languages: list[str] = field(default_factory=lambda: list(DEFAULT_LANGUAGES))
    store_url: str = "sqlite:///docket.sqlite"
    store_schema: str | None = None
    severities: dict[str, str] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)
    smtp: dict[str, Any] = field(default_factory=dict)
    datacite: dict[str, Any] = field(default_factory=dict)
    # Local folders a request's file paths may point into (relative to the instance); a request
    # naming any other local path is refused, so a provider cannot make docket read /etc.
    local_roots: list[str] = field(default_factory=lambda: ["inbox"])
    # Seconds to wait for a connection and for each read of a transfer.
    transfer_timeout: float = 60.0
    # Seconds one file's whole transfer may take, however steadily bytes trickle in.
    transfer_deadline: float = 6 * 3600.0
    # Proxies by URL scheme; None uses the environment (http_proxy, https_proxy, no_proxy).
    transfer_proxies: dict[str, str] | None = None
    # Hosts, addresses or networks (CIDR) that may be fetched although they are not public
    # (loopback, private, link-local...): a data centre's own servers. Empty: public only.
    transfer_allow: list[str] = field(default_factory=list)
    # Credentials by host, each the name of an environment variable holding "user:password":
    # how docket logs in to a provider's server without a password ever being stored.
    transfer_credentials: dict[str, str] = field(default_factory=dict)
    # Whether a local file with more than one hard link may be transferred (a hard link in the
    # inbox to a file elsewhere would otherwise carry that file out).
    transfer_allow_hardlinks: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def limit(self, name: str) -> int:
        """The ``[limits]`` value ``name``, else its default (:mod:`docket.limits`)."""
        return limit(self.limits, name)

    def to_toml(self) -> dict[str, Any]:
        store: dict[str, Any] = {"url": self.store_url}
        if self.store_schema:
            store["schema"] = self.store_schema
        out: dict[str, Any] = {
            "instance": {"project": self.project, "base_uri": self.base_uri, "languages": self.languages},
            "store": store,
            "severities": self.severities,
            "limits": self.limits,
            "transfer": {"local_roots": self.local_roots, "timeout": self.transfer_timeout,
                         "deadline": self.transfer_deadline, "allow": self.transfer_allow,
                         **({"proxies": self.transfer_proxies} if self.transfer_proxies is not None else {}),
                         **({"credentials": self.transfer_credentials} if self.transfer_credentials else {}),
                         **({"allow_hardlinks": True} if self.transfer_allow_hardlinks else {})},
        }
        if self.smtp:
            out["smtp"] = self.smtp
        if self.datacite:
            out["datacite"] = self.datacite
        out.update(self.extra)
        return out


def _require(table: dict, key: str, kind: type, where: str) -> Any:
    value = table.get(key)
    if not isinstance(value, kind):
        raise InstanceError(f"{where}: '{key}' must be a {kind.__name__}, got {value!r}")
    return value


def parse_config(data: dict[str, Any], where: str) -> Config:
    """Check the parsed TOML and turn it into a :class:`Config`, naming any bad setting."""
    inst = data.get("instance")
    if not isinstance(inst, dict):
        raise InstanceError(f"{where}: the [instance] table is missing")
    project = _require(inst, "project", str, f"{where} [instance]")
    if not _SLUG.match(project):
        raise InstanceError(f"{where} [instance]: project {project!r} must be a lower-case slug")
    base_uri = _require(inst, "base_uri", str, f"{where} [instance]")
    languages = inst.get("languages", DEFAULT_LANGUAGES)
    if not (isinstance(languages, list) and languages and all(isinstance(x, str) for x in languages)):
        raise InstanceError(f"{where} [instance]: languages must be a list of language codes")
    store = data.get("store", {})
    if not isinstance(store, dict):
        raise InstanceError(f"{where}: [store] must be a table")
    transfer = data.get("transfer", {})
    if not isinstance(transfer, dict):
        raise InstanceError(f"{where}: [transfer] must be a table")
    roots = transfer.get("local_roots", ["inbox"])
    if not (isinstance(roots, list) and all(isinstance(r, str) for r in roots)):
        raise InstanceError(f"{where} [transfer]: local_roots must be a list of folders")
    proxies = transfer.get("proxies")
    if proxies is not None and not (
        isinstance(proxies, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in proxies.items())
    ):
        raise InstanceError(f'{where} [transfer]: proxies must be a table like {{ https = "http://proxy:3128" }}')
    allow = transfer.get("allow", [])
    if not (isinstance(allow, list) and all(isinstance(a, str) for a in allow)):
        raise InstanceError(f'{where} [transfer]: allow must be a list of hosts or networks, like ["10.1.0.0/16"]')
    credentials = transfer.get("credentials", {})
    if not (isinstance(credentials, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in credentials.items())):
        raise InstanceError(f'{where} [transfer]: credentials must be a table like '
                            f'{{ "data.example.org" = "DOCKET_CREDENTIALS_EXAMPLE" }} (environment variable names)')
    hardlinks = transfer.get("allow_hardlinks", False)
    if not isinstance(hardlinks, bool):
        raise InstanceError(f"{where} [transfer]: allow_hardlinks must be true or false")
    timeouts = {}
    for key, default in (("timeout", 60.0), ("deadline", 6 * 3600.0)):
        value = transfer.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < float("inf"):
            raise InstanceError(f"{where} [transfer]: {key} must be a positive number of seconds, not {value!r}")
        timeouts[key] = float(value)
    limits = data.get("limits", {})
    if not isinstance(limits, dict):
        raise InstanceError(f"{where}: [limits] must be a table")
    for key in limits:
        if key not in LIMIT_DEFAULTS:
            raise InstanceError(f"{where} [limits]: unknown limit {key!r} (known: {', '.join(LIMIT_DEFAULTS)})")
        limit(limits, key)
    known = {"instance", "store", "severities", "limits", "smtp", "datacite", "transfer"}
    return Config(
        project=project,
        base_uri=base_uri,
        languages=languages,
        store_url=str(store.get("url", "sqlite:///docket.sqlite")),
        store_schema=store.get("schema"),
        severities=dict(data.get("severities", {})),
        limits=dict(limits),
        smtp=dict(data.get("smtp", {})),
        datacite=dict(data.get("datacite", {})),
        local_roots=roots,
        transfer_timeout=timeouts["timeout"],
        transfer_deadline=timeouts["deadline"],
        transfer_proxies=proxies,
        transfer_allow=allow,
        transfer_credentials=credentials,
        transfer_allow_hardlinks=hardlinks,
        extra={k: v for k, v in data.items() if k not in known},
    )


class Instance:
    """An instance folder: its paths and its configuration."""

    def __init__(self, root: Path, config: Config) -> None:
        self.root = root
        self.config = config

    @property
    def schemas_dir(self) -> Path:
        return self.root / "schemas"

    @property
    def files_dir(self) -> Path:
        return self.root / "files"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def local_roots(self) -> list[Path]:
        """The folders local file locations must lie in, resolved against the instance."""
        return [(self.root / r).resolve() for r in self.config.local_roots]

    @property
    def templates_dir(self) -> Path:
        return self.root / "prov_templates"

    def store_url(self) -> str:
        """The store URL: ``$DOCKET_DATABASE_URL`` wins; relative SQLite paths live in the folder."""
        url = os.environ.get("DOCKET_DATABASE_URL") or self.config.store_url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite:///:memory:":
            url = prefix + str((self.root / url[len(prefix):]).resolve())
        return url

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        project: str | None = None,
        base_uri: str | None = None,
        languages: list[str] | None = None,
        store_url: str | None = None,
        store_schema: str | None = None,
        local_roots: list[str] | None = None,
    ) -> Instance:
        root = Path(path).resolve()
        if (root / CONFIG_NAME).exists():
            raise BadInput(f"{root} is already a docket instance ({CONFIG_NAME} exists)")
        project = project or "docket"
        if not _SLUG.match(project):
            raise BadInput(f"project {project!r} must be a lower-case slug (a-z, 0-9, -; 2 to 32 characters)")
        base_uri = base_uri or f"https://data.example.org/{project}/"
        if not re.match(r"^[a-z][a-z0-9+.-]*:", base_uri):
            raise BadInput(f"base URI {base_uri!r} must be an absolute URI")
        if not base_uri.endswith(("/", "#")):
            base_uri += "/"
        config = Config(
            project=project,
            base_uri=base_uri,
            languages=languages or list(DEFAULT_LANGUAGES),
            store_url=store_url or "sqlite:///docket.sqlite",
            store_schema=store_schema,
            severities={},
            limits=dict(LIMIT_DEFAULTS),
            local_roots=list(local_roots) if local_roots is not None else ["inbox"],
        )
        try:
            root.mkdir(parents=True, exist_ok=True)
            for name in FOLDERS:
                (root / name).mkdir(exist_ok=True)
            (root / CONFIG_NAME).write_text(
                "# docket instance settings. Secrets come from the environment:\n"
                "# DOCKET_DATABASE_URL, DOCKET_SMTP_PASSWORD, DOCKET_DATACITE_PASSWORD.\n"
                + tomli_w.dumps(config.to_toml()),
                encoding="utf-8",
            )
        except OSError as exc:
            raise InstanceError(f"cannot create instance at {root}: {exc.strerror or exc}") from exc
        return cls(root, config)

    @classmethod
    def find(cls, path: str | os.PathLike[str] | None = None) -> Instance:
        root = Path(path or os.environ.get("DOCKET_INSTANCE") or os.getcwd()).resolve()
        config_path = root / CONFIG_NAME
        if not root.is_dir():
            raise InstanceError(f"no docket instance at {root}: the folder does not exist (run 'docket init {root}')")
        if not config_path.is_file():
            raise InstanceError(f"no docket instance at {root}: {CONFIG_NAME} is missing (run 'docket init DIR')")
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InstanceError(f"cannot read {config_path}: {exc.strerror or exc}") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InstanceError(f"{config_path} is not valid TOML: {exc}") from exc
        return cls(root, parse_config(data, str(config_path)))
