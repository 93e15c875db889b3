"""A request's provenance as a page a person reads: one timeline line per step, the graph below.

The PROV-JSON, the TriG and the SVG are for machines and for the few who read graphs; a data
manager or an auditor opening a request's provenance wants its story: who did what, when, with
which files, what the reviewer said and what QA found. :class:`TimelineHTML` (format ``html``)
writes that story as one self-contained HTML page: no script, no external resource (a
Content-Security-Policy forbids both), responsive CSS that fits one screen width, every text from
the document escaped, and the existing SVG picture inline in a closed ``<details>`` underneath.

The timeline is read from the PROV *structure*, never from docket's identifier spelling or its
vocabulary namespace: every activity is a step (ordered by its start time), its kind is its
``prov:type``; who acted are the agents associated with it (their role and plan from the
association); what it used and generated come from ``used`` and ``wasGeneratedBy``; attributes
are recognised by their local name (``name``, ``size``, ``sha256``, ``comment``, ``toState``,
``errors``...) in whatever namespace a template puts them. Multilingual labels (``prov:label``
with language tags) are shown in the instance's first language that has one.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from prov.identifier import Identifier, QualifiedName
from prov.model import (
    PROV,
    PROV_ATTR_ACTIVITY,
    PROV_ATTR_AGENT,
    PROV_ATTR_DELEGATE,
    PROV_ATTR_ENTITY,
    PROV_ATTR_GENERATED_ENTITY,
    PROV_ATTR_PLAN,
    PROV_ATTR_RESPONSIBLE,
    PROV_ATTR_USED_ENTITY,
    PROV_LABEL,
    PROV_LOCATION,
    PROV_ROLE,
    PROV_TYPE,
    PROV_VALUE,
    Literal,
    ProvActivity,
    ProvAgent,
    ProvAssociation,
    ProvAttribution,
    ProvDelegation,
    ProvDerivation,
    ProvDocument,
    ProvElement,
    ProvEntity,
    ProvGeneration,
    ProvUsage,
)

from docket.provenance.export import SVG, RenderFailed, Serializer, register

__all__ = ["TimelineHTML", "render"]

# --------------------------------------------------------------------------- reading the document

#: Readable names for the local names of docket's types; any other type is de-camel-cased.
TYPE_NAMES = {
    "QaRun": "QA run",
    "JsonSchema": "JSON schema",
    "RemoteFile": "source file",
    "IngestRequest": "request",
    "SoftwareAgent": "software",
}
#: Local names of attributes that name a thing.
NAME_KEYS = ("name", "title", "fileName", "filename")
#: Local names of attributes that are summarised on the step's line rather than listed.
SUMMARY_KEYS = {"outcome", "reason", "fromState", "toState", "comment", "status", "verdict",
                "stepStatus", "errors", "warnings", "checksRun"}
#: Local names of attributes that give a size in bytes (docket's own, DCAT's).
SIZE_KEYS = {"size", "byteSize"}
#: Local names of attributes that give a software's version (docket's own, schema.org's).
VERSION_KEYS = ("version", "softwareVersion")
_HASHES = ("md5", "sha1", "sha256", "sha512", "digest", "checksum")
_GOOD = {"done", "ok", "success", "succeeded", "accepted", "approved", "valid", "published",
         "archived", "closed", "submitted"}
_BAD = {"failed", "failure", "error", "errors", "rejected", "invalid", "interrupted", "refused",
        "withdrawn", "retired"}
_LINK_SCHEMES = {"http", "https", "ftp", "file"}


def _local(qn: Any) -> str:
    return qn.localpart if isinstance(qn, QualifiedName) else str(qn)


def _is_prov(qn: Any) -> bool:
    return isinstance(qn, QualifiedName) and qn.namespace.uri == PROV.uri


def _text(value: Any) -> str:
    """A PROV attribute value as plain text."""
    if isinstance(value, Literal):
        return str(value.value)
    if isinstance(value, QualifiedName):
        return value.localpart if value.namespace.uri == PROV.uri else str(value)
    if isinstance(value, Identifier):
        return value.uri
    if isinstance(value, datetime):
        return _when(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@dataclass(frozen=True)
class Text:
    """A value to show, with its language tag when it has one."""

    value: str
    lang: str | None = None


def _pick(values: Iterable[Any], languages: Sequence[str]) -> Text | None:
    """One of an attribute's values: the first preferred language, then untagged, then any."""
    values = list(values)
    if not values:
        return None
    tagged: dict[str, Any] = {}
    plain = []
    for v in values:
        tag = v.langtag if isinstance(v, Literal) else None
        if tag:
            tagged.setdefault(tag.lower(), v)
        else:
            plain.append(v)
    for lang in languages:
        lang = lang.lower()
        for tag, v in tagged.items():
            if tag == lang or tag.split("-")[0] == lang:
                return Text(_text(v), v.langtag)
    if plain:
        return Text(_text(sorted(plain, key=_text)[0]))
    tag, v = sorted(tagged.items())[0]
    return Text(_text(v), v.langtag)


def _words(localpart: str) -> str:
    """``checksRun`` -> ``checks run``, ``QaRun`` -> ``QA run`` (from :data:`TYPE_NAMES`)."""
    if localpart in TYPE_NAMES:
        return TYPE_NAMES[localpart]
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", localpart).replace("_", " ").replace("-", " ")
    words = spaced.split()
    return " ".join([words[0][:1].upper() + words[0][1:]] + [w.lower() for w in words[1:]]) if words else localpart


@dataclass
class Node:
    """An element of the document with its attributes grouped for reading."""

    identifier: str
    kind: str  # "entity", "activity", "agent"
    types: list[Any] = field(default_factory=list)
    labels: list[Any] = field(default_factory=list)
    locations: list[Any] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)
    attrs: dict[str, list[Any]] = field(default_factory=dict)  # other attributes, by local name
    start: datetime | None = None
    end: datetime | None = None

    def first(self, key: str) -> Any:
        vals = self.attrs.get(key)
        return vals[0] if vals else None

    def type_names(self) -> list[str]:
        return [_local(t) for t in self.types]

    def is_person(self) -> bool:
        return any(_is_prov(t) and t.localpart == "Person" for t in self.types)

    def is_software(self) -> bool:
        return any(_is_prov(t) and t.localpart == "SoftwareAgent" for t in self.types)

    def kind_label(self) -> str:
        """The most specific type, readable: a vocabulary type before a PROV one."""
        ours = [t for t in self.types if not _is_prov(t)]
        chosen = (ours or self.types)
        return _words(_local(sorted(chosen, key=str)[0])) if chosen else ""


def _node(record: ProvElement, kind: str) -> Node:
    node = Node(str(record.identifier), kind)
    for key, value in record.attributes:
        if key == PROV_TYPE:
            node.types.append(value)
        elif key == PROV_LABEL:
            node.labels.append(value)
        elif key == PROV_LOCATION:
            node.locations.append(value)
        elif key == PROV_VALUE:
            node.values.append(value)
        elif _is_prov(key):
            continue  # prov:startTime and the like, read below
        else:
            node.attrs.setdefault(_local(key), []).append(value)
    if isinstance(record, ProvActivity):
        node.start, node.end = record.get_startTime(), record.get_endTime()
    return node


def _one(record: Any, attr: QualifiedName) -> str | None:
    for key, value in record.formal_attributes:
        if key == attr and value is not None:
            return str(value)
    return None


@dataclass
class Association:
    agent: str
    plan: str | None
    roles: list[Any]


@dataclass
class Step:
    activity: Node
    order: int
    agents: list[Association] = field(default_factory=list)
    used: list[str] = field(default_factory=list)
    generated: list[str] = field(default_factory=list)


class Story:
    """The document read as a request's story: nodes by identifier and the steps in time order."""

    def __init__(self, document: ProvDocument) -> None:
        flat = document.flattened() if document.bundles else document
        flat = flat.unified()
        self.nodes: dict[str, Node] = {}
        for cls, kind in ((ProvEntity, "entity"), (ProvActivity, "activity"), (ProvAgent, "agent")):
            for record in flat.get_records(cls):
                self.nodes[str(record.identifier)] = _node(record, kind)
        steps = {nid: Step(n, i) for i, (nid, n) in enumerate(self.nodes.items()) if n.kind == "activity"}
        self.derived_from: dict[str, list[str]] = {}
        self.attributed: dict[str, list[str]] = {}
        self.on_behalf_of: dict[str, list[str]] = {}
        for record in flat.get_records():
            if isinstance(record, ProvUsage):
                act, ent = _one(record, PROV_ATTR_ACTIVITY), _one(record, PROV_ATTR_ENTITY)
                if act in steps and ent and ent not in steps[act].used:
                    steps[act].used.append(ent)
            elif isinstance(record, ProvGeneration):
                act, ent = _one(record, PROV_ATTR_ACTIVITY), _one(record, PROV_ATTR_ENTITY)
                if act in steps and ent and ent not in steps[act].generated:
                    steps[act].generated.append(ent)
            elif isinstance(record, ProvAssociation):
                act, agent = _one(record, PROV_ATTR_ACTIVITY), _one(record, PROV_ATTR_AGENT)
                if act in steps and agent:
                    roles = [v for k, v in record.extra_attributes if k == PROV_ROLE]
                    known = next((a for a in steps[act].agents if a.agent == agent), None)
                    plan = _one(record, PROV_ATTR_PLAN)
                    if known is None:
                        steps[act].agents.append(Association(agent, plan, roles))
                    else:
                        known.plan = known.plan or plan
                        known.roles += [r for r in roles if r not in known.roles]
            elif isinstance(record, ProvDerivation):
                gen, used = _one(record, PROV_ATTR_GENERATED_ENTITY), _one(record, PROV_ATTR_USED_ENTITY)
                if gen and used:
                    self.derived_from.setdefault(gen, []).append(used)
            elif isinstance(record, ProvAttribution):
                ent, agent = _one(record, PROV_ATTR_ENTITY), _one(record, PROV_ATTR_AGENT)
                if ent and agent:
                    self.attributed.setdefault(ent, []).append(agent)
            elif isinstance(record, ProvDelegation):
                who, whom = _one(record, PROV_ATTR_DELEGATE), _one(record, PROV_ATTR_RESPONSIBLE)
                if who and whom:
                    self.on_behalf_of.setdefault(who, []).append(whom)
        self.steps = sorted(steps.values(), key=_step_key)

    def node(self, identifier: str) -> Node:
        return self.nodes.get(identifier) or Node(identifier, "entity")


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment


def _step_key(step: Step) -> tuple:
    moment = step.activity.start or step.activity.end
    if moment is None:
        return (1, 0.0, step.order)
    stamp = _utc(moment).replace(tzinfo=UTC).timestamp()
    return (0, stamp, step.order)


# --------------------------------------------------------------------------- formatting values


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _when(moment: datetime, *, date: bool = True, zone: bool = True) -> str:
    moment = _utc(moment)
    text = moment.strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S")
    return text + (" UTC" if zone and moment.tzinfo else "")


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.2g} s" if seconds < 1 else f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {sec} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} d {hours % 24} h"


def _time_range(start: datetime | None, end: datetime | None) -> str:
    """``<time>`` elements for a step's start and end, readable, with the duration."""
    if start is None and end is None:
        return '<span class="muted">time not recorded</span>'
    if start is None or end is None or start == end:
        moment = start or end
        return f'<time datetime="{esc(moment.isoformat())}">{esc(_when(moment))}</time>'
    same_day = _utc(start).date() == _utc(end).date()
    seconds = (_utc(end) - _utc(start)).total_seconds() if (start.tzinfo is None) == (end.tzinfo is None) else None
    text = (f'<time datetime="{esc(start.isoformat())}">{esc(_when(start, zone=not same_day))}</time>'
            f' – <time datetime="{esc(end.isoformat())}">{esc(_when(end, date=not same_day))}</time>')
    if seconds is not None and seconds >= 0:
        text += f' <span class="muted">({esc(_duration(seconds))})</span>'
    return text


def _size(value: Any) -> str:
    """``2835`` -> ``2.84 kB (2,835 bytes)``."""
    try:
        n = int(_text(value))
    except ValueError:
        return esc(_text(value))
    if n < 1000:
        return f"{n:,} bytes"
    scaled = float(n)
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        scaled /= 1000
        if scaled < 999.5 or unit == "PB":
            break
    shown = f"{scaled:.0f}" if scaled >= 99.5 else f"{scaled:.1f}" if scaled >= 9.95 else f"{scaled:.2f}"
    return f'{shown}\u00a0{unit} <span class="muted">({n:,} bytes)</span>'


def _hash(key: str, value: Any) -> str:
    """A checksum, abbreviated, the whole value in the tooltip and selectable in the page."""
    full = _text(value)
    algo, sep, hexpart = full.partition(":")
    shown = f"{algo}:{hexpart[:12]}…" if sep and len(hexpart) > 16 else (f"{full[:12]}…" if len(full) > 16 else full)
    label = "" if sep else f"{esc(_words(key).lower())} "
    return f'{label}<code class="hash" title="{esc(full)}">{esc(shown)}</code>'


def _is_hash(key: str) -> bool:
    low = key.lower()
    return any(low == h or low.endswith(h) for h in _HASHES)


def href(location: str) -> str | None:
    """A link for a location: http(s), ftp and ``file:`` URLs as they are, an absolute path as a
    ``file:`` URI; anything else (``javascript:``, relative paths, odd schemes) is no link."""
    if not location or location != location.strip() or any(ord(c) < 32 or ord(c) == 127 for c in location):
        return None
    if location.startswith("/") and not location.startswith("//"):
        return PurePosixPath(location).as_uri()
    if re.match(r"^[A-Za-z]:[\\/]", location):
        return PureWindowsPath(location).as_uri()
    try:
        parts = urlsplit(location)
    except ValueError:
        return None
    if parts.scheme.lower() not in _LINK_SCHEMES:
        return None
    if parts.scheme.lower() != "file" and not parts.netloc:
        return None
    return location


def _link(location: str, text: str | None = None, cls: str = "") -> str:
    target = href(location)
    body = esc(text if text is not None else location)
    klass = f' class="{cls}"' if cls else ""
    if target is None:
        return f"<span{klass}>{body}</span>"
    return f'<a{klass} href="{esc(target)}" title="{esc(location)}">{body}</a>'


def _lang(text: Text | None, cls: str = "") -> str:
    if text is None:
        return ""
    attrs = (f' class="{cls}"' if cls else "") + (f' lang="{esc(text.lang)}"' if text.lang else "")
    return f"<span{attrs}>{esc(text.value)}</span>" if attrs else esc(text.value)


def _tone(value: str) -> str:
    low = value.strip().lower()
    return "good" if low in _GOOD else "bad" if low in _BAD else "plain"


# --------------------------------------------------------------------------- the page


class Page:
    def __init__(self, story: Story, languages: Sequence[str]) -> None:
        self.story = story
        self.languages = list(languages)

    def name(self, node: Node) -> Text | None:
        """What a thing is called: its label, a name or title attribute, its file name."""
        picked = _pick(node.labels, self.languages)
        if picked:
            return picked
        for key in NAME_KEYS:
            picked = _pick(node.attrs.get(key, []), self.languages)
            if picked:
                return picked
        for loc in node.locations:
            path = unquote(urlsplit(_text(loc)).path or _text(loc)).rstrip("/\\")
            base = re.split(r"[\\/]", path)[-1]
            if base:
                return Text(base)
        return None

    def checksum(self, node: Node) -> str:
        """An ``spdx:Checksum``-like entity (algorithm and value) as an abbreviated hash."""
        algo = node.first("algorithm")
        name = _local(algo).rsplit("_", 1)[-1] if algo is not None else "checksum"
        return _hash(name, node.attrs["checksumValue"][0])

    def short_id(self, node: Node) -> str:
        local = node.identifier.split(":", 1)[-1]
        return unquote(local.rstrip("/").split("/")[-1]) or node.identifier

    # -- agents

    def agent(self, assoc: Association) -> str:
        node = self.story.node(assoc.agent)
        named = self.name(node)
        if named is None:  # software is often known by its identifier: .../docket/0.1.0
            parts = [unquote(p) for p in node.identifier.split(":", 1)[-1].split("/") if p]
            named = Text(" ".join(parts[-2:]) if len(parts) >= 2 and node.is_software() else self.short_id(node))
        roles = [_local(r) if isinstance(r, QualifiedName) else _text(r)
                 for r in [*assoc.roles, *node.attrs.get("role", [])]]
        extras = []
        if roles:
            extras.append(", ".join(esc(_words(r).lower()) for r in dict.fromkeys(roles)))
        if node.is_software():
            version = next((node.first(k) for k in VERSION_KEYS if node.first(k) is not None), None)
            version = _text(version) if version is not None else None
            if version and named.value.endswith(version) and named.value[: -len(version)][-1:] in ("-", "/", "_"):
                named = Text(named.value[: -len(version) - 1] + " " + version, named.lang)  # docket-0.1.0
            elif version and version not in named.value:
                extras.append(f"version {esc(version)}")
        elif not node.is_person():
            kind = node.kind_label()
            if kind:
                extras.append(esc(kind.lower()))
        cls = "who software" if node.is_software() else "who person" if node.is_person() else "who"
        out = f'<span class="{cls}" title="{esc(node.identifier)}">{_lang(named, "name")}'
        for key in ("email",):
            if node.first(key) is not None:
                extras.append(esc(_text(node.first(key))))
        if extras:
            out += f' <span class="muted">({"; ".join(extras)})</span>'
        if assoc.plan:
            plan = self.story.node(assoc.plan)
            plan_name = self.name(plan) or Text(self.short_id(plan))
            loc = _text(plan.locations[0]) if plan.locations else None
            shown = _link(loc, plan_name.value) if loc else _lang(plan_name)
            out += f' <span class="muted">following</span> {shown}'
        for boss in self.story.on_behalf_of.get(assoc.agent, []):
            boss_name = self.name(self.story.node(boss)) or Text(self.short_id(self.story.node(boss)))
            out += f' <span class="muted">on behalf of</span> {_lang(boss_name)}'
        return out + "</span>"

    def agents(self, step: Step) -> str:
        def rank(a: Association) -> int:
            n = self.story.node(a.agent)
            return 0 if n.is_person() else 2 if n.is_software() else 1

        people = sorted(step.agents, key=rank)
        if not people:
            return '<span class="muted">no agent recorded</span>'
        return '<span class="muted">by</span> ' + ", ".join(self.agent(a) for a in people)

    # -- entities

    def entity(self, identifier: str, step: Step, *, produced: bool) -> str:
        node = self.story.node(identifier)
        named = self.name(node)
        kind = node.kind_label()
        parts: list[str] = []
        loc = _text(node.locations[0]) if node.locations else None
        if kind:
            alone = named is None and not node.locations and not any(
                k not in SUMMARY_KEYS for k in node.attrs) and not node.values
            parts.append(f'<span class="kind{" alone" if alone else ""}">{esc(kind)}</span>')
            if alone and produced:
                parts.append('<span class="muted">(above)</span>')
        if named is not None:
            parts.append(_link(loc, named.value, "name") if loc and href(loc) else _lang(named, "name"))
        elif not kind:
            parts.append(f'<span class="name">{esc(self.short_id(node))}</span>')
        meta: list[str] = []
        for key, values in node.attrs.items():
            if key in NAME_KEYS or (produced and key in SUMMARY_KEYS) or key == "comment":
                continue
            for value in values:
                ref = self.story.nodes.get(str(value)) if isinstance(value, QualifiedName) else None
                if ref is not None and ref.attrs.get("checksumValue"):
                    meta.append(self.checksum(ref))
                elif ref is not None:
                    shown = self.name(ref) or Text(self.short_id(ref))
                    meta.append(f'<span class="key">{esc(_words(key).lower())}</span> {_lang(shown)}')
                elif key == "mediaType" and "/media-types/" in _text(value):  # an IANA URI
                    meta.append(esc(_text(value).split("/media-types/", 1)[1]))
                elif key in SIZE_KEYS:
                    meta.append(_size(value))
                elif _is_hash(key):
                    meta.append(_hash(key, value))
                elif key == "revision":
                    meta.append(f"revision {esc(_text(value))}")
                else:
                    meta.append(f'<span class="key">{esc(_words(key).lower())}</span> {esc(_text(value))}')
        html_parts = " ".join(parts)
        if meta:
            html_parts += ' <span class="meta">' + " · ".join(meta) + "</span>"
        for location in node.locations:
            html_parts += f' <span class="loc">{_link(_text(location))}</span>'
        sources = self.story.derived_from.get(identifier, []) if produced else []
        if len(sources) == 1 and sources[0] in step.used:  # a copy (a stored file): where from
            src = self.story.node(sources[0])
            if src.locations:
                html_parts += f' <span class="from">from {_link(_text(src.locations[0]))}</span>'
        for value in node.values:
            html_parts += (f'<details class="value"><summary>value</summary><pre>{esc(_text(value))}</pre>'
                           "</details>")
        return f'<li title="{esc(identifier)}">{html_parts}</li>'

    def summary(self, step: Step) -> str:
        """Badges for the step's outcome, review decision and QA result, then comments."""
        badges: list[str] = []
        notes: list[str] = []
        comments: list[Text] = []
        sources = [step.activity] + [self.story.node(g) for g in step.generated]
        for node in sources:
            attrs = node.attrs
            to_state = _pick(attrs.get("toState", []), self.languages)
            from_state = _pick(attrs.get("fromState", []), self.languages)
            if to_state:
                arrow = f"{esc(from_state.value)} → " if from_state else "→ "
                badges.append(f'<span class="badge {_tone(to_state.value)}">{arrow}{esc(to_state.value)}</span>')
            for key in ("stepStatus", "outcome", "status", "verdict"):
                for value in attrs.get(key, []):
                    badges.append(f'<span class="badge {_tone(_text(value))}">{esc(_text(value))}</span>')
            for key, singular, plural, bad in (("errors", "error", "errors", "bad"),
                                               ("warnings", "warning", "warnings", "warn"),
                                               ("checksRun", "check run", "checks run", "plain")):
                for value in attrs.get(key, []):
                    count = _text(value)
                    tone = bad if count not in ("0", "") else "plain"
                    word = singular if count == "1" else plural
                    badges.append(f'<span class="badge {tone}">{esc(count)} {word}</span>')
            for value in attrs.get("reason", []):
                notes.append(esc(_text(value)))
            picked = _pick(attrs.get("comment", []), self.languages)
            if picked:
                comments.append(picked)
        out = ""
        if badges or notes:
            out += '<p class="summary">' + " ".join(badges)
            if notes:
                out += ' <span class="reason">' + "; ".join(notes) + "</span>"
            out += "</p>"
        for comment in comments:
            lang = f' lang="{esc(comment.lang)}"' if comment.lang else ""
            out += f'<blockquote class="comment"{lang}>{esc(comment.value)}</blockquote>'
        return out

    def step(self, index: int, step: Step) -> str:
        act = step.activity
        kind = act.kind_label() or "Activity"
        named = self.name(act)
        title = esc(kind) + (f" <span class=\"muted\">{_lang(named)}</span>" if named else "")
        used = "".join(self.entity(e, step, produced=False) for e in step.used)
        made = "".join(self.entity(e, step, produced=True) for e in step.generated)
        lists = ""
        if used:
            lists += f'<div class="used"><h3>Used</h3><ul>{used}</ul></div>'
        if made:
            lists += f'<div class="generated"><h3>Produced</h3><ul>{made}</ul></div>'
        return (
            f'<li class="step" id="step-{index}" data-type="{esc(" ".join(act.type_names()))}"'
            f' data-activity="{esc(act.identifier)}">'
            f'<div class="head"><h2>{title}</h2> <span class="when">{_time_range(act.start, act.end)}</span></div>'
            f'<p class="agents">{self.agents(step)}</p>'
            f"{self.summary(step)}"
            + (f'<div class="io">{lists}</div>' if lists else "")
            + "</li>"
        )

    def header(self, request_id: str | None) -> tuple[str, str]:
        """The page title and the heading: the request, its title, state, provider and span."""
        titled = []
        for node in self.story.nodes.values():
            if node.kind == "entity" and node.attrs.get("title"):
                rev = node.first("revision")
                try:
                    order = int(_text(rev)) if rev is not None else 0
                except ValueError:
                    order = 0
                titled.append((order, node))
        title = None
        provider: list[str] = []
        if titled:
            latest = max(titled, key=lambda t: t[0])[1]
            title = _pick(latest.attrs["title"], self.languages)
            provider = self.story.attributed.get(latest.identifier, [])
        state = None
        for step in self.story.steps:
            for node in [step.activity] + [self.story.node(g) for g in step.generated]:
                for key in ("toState", "reviewState"):
                    picked = _pick(node.attrs.get(key, []), self.languages)
                    if picked:
                        state = picked.value
        heading = f"Provenance of {request_id}" if request_id else "Provenance"
        page_title = heading + (f": {title.value}" if title else "")
        facts = []
        if title:
            facts.append(f'<p class="title">{_lang(title)}</p>')
        dl = []
        if state:
            dl.append(f'<div><dt>Review state</dt><dd><span class="badge {_tone(state)}">{esc(state)}</span></dd></div>')
        if provider:
            names = [self.agent(Association(p, None, [])) for p in provider]
            dl.append(f"<div><dt>Provider</dt><dd>{', '.join(names)}</dd></div>")
        times = [t for s in self.story.steps for t in (s.activity.start, s.activity.end) if t is not None]
        dl.append(f"<div><dt>Steps</dt><dd>{len(self.story.steps)}</dd></div>")
        if times:
            try:
                span = _time_range(min(times, key=_utc), max(times, key=_utc))
            except TypeError:  # naive and aware times mixed: no span
                span = ""
            if span:
                dl.append(f"<div><dt>Period</dt><dd>{span}</dd></div>")
        facts.append("<dl class=\"facts\">" + "".join(dl) + "</dl>")
        return page_title, f"<header><h1>{esc(heading)}</h1>{''.join(facts)}</header>"


CSS = """
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6475; --line: #c9d0dc; --card: #f6f8fb;
  --good: #1b6e3a; --good-bg: #e3f4e8; --bad: #a3212a; --bad-bg: #fbe6e7; --warn: #8a5a00;
  --warn-bg: #fdf1d6; --accent: #2457a6; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; padding: 1.25rem; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto,
  "Noto Sans", "DejaVu Sans", sans-serif; color: var(--ink); background: #fff;
  overflow-wrap: anywhere; }
main { max-width: 72rem; margin: 0 auto; }
h1 { font-size: 1.45rem; margin: 0 0 .2rem; }
h2 { font-size: 1.05rem; margin: 0; display: inline; }
h3 { font-size: .78rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted);
  margin: 0 0 .2rem; }
a { color: var(--accent); }
code, .hash { font: .85em/1.3 ui-monospace, "DejaVu Sans Mono", monospace; }
.muted, .meta, .loc, .from, .key { color: var(--muted); }
.meta, .loc, .from { font-size: .88em; }
.loc, .from { display: block; }
.title { font-size: 1.1rem; margin: 0 0 .4rem; }
.facts { display: flex; flex-wrap: wrap; gap: .2rem 1.5rem; margin: 0 0 1rem; }
.facts dt { color: var(--muted); font-size: .85em; }
.facts dt::after { content: ":"; }
.facts dd { margin: 0 0 0 .3rem; }
.facts dt, .facts dd { display: inline; }
ol.timeline { list-style: none; margin: 0; padding: 0 0 0 1.4rem; border-left: 3px solid var(--line); }
.step { position: relative; margin: 0 0 .9rem; padding: .6rem .9rem; background: var(--card);
  border: 1px solid var(--line); border-radius: .4rem; }
.step::before { content: ""; position: absolute; left: -1.4rem; top: .95rem; width: .8rem;
  height: .8rem; margin-left: -.55rem; border-radius: 50%; background: var(--accent);
  border: 2px solid #fff; }
.head { display: flex; flex-wrap: wrap; justify-content: space-between; gap: .1rem 1rem;
  align-items: baseline; }
.when { color: var(--muted); font-size: .9em; }
.agents, .summary { margin: .25rem 0; }
.who.person .name { font-weight: 600; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: .7rem; font-size: .85em;
  background: #e8ebf1; margin: 0 .2rem .1rem 0; }
.badge.good { background: var(--good-bg); color: var(--good); }
.badge.bad { background: var(--bad-bg); color: var(--bad); }
.badge.warn { background: var(--warn-bg); color: var(--warn); }
.reason { color: var(--bad); }
blockquote.comment { margin: .35rem 0; padding: .3rem .7rem; border-left: 3px solid var(--accent);
  background: #fff; white-space: pre-wrap; }
.io { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 20rem), 1fr));
  gap: .4rem 1.2rem; margin-top: .35rem; }
.io ul { margin: 0; padding-left: 1.1rem; }
.io li { margin: 0 0 .25rem; }
.kind { font-size: .8em; color: var(--muted); text-transform: lowercase; margin-right: .25rem; }
.kind:not(.alone)::after { content: ":"; }
details.value summary { cursor: pointer; color: var(--muted); font-size: .85em; }
details.value pre, .picture pre { white-space: pre-wrap; margin: .2rem 0; font-size: .8em; }
details.graph { margin-top: 1.2rem; border-top: 1px solid var(--line); padding-top: .6rem; }
details.graph summary { cursor: pointer; font-weight: 600; }
.picture { overflow: auto; max-width: 100%; max-height: 85vh; border: 1px solid var(--line);
  margin-top: .5rem; background: #fff; }
.picture svg { display: block; }
footer { margin-top: 1rem; color: var(--muted); font-size: .85em; }
@media (max-width: 40rem) { body { padding: .6rem; } ol.timeline { padding-left: .9rem; }
  .step::before { left: -.9rem; } }
@media print { details.graph { display: none; } .step { break-inside: avoid; } }
"""

#: The page loads nothing and runs nothing: styles inline, links only navigate.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

_SVG_NS = "http://www.w3.org/2000/svg"
_XLINK = "http://www.w3.org/1999/xlink"
_SVG_TAGS = {"svg", "g", "title", "desc", "text", "tspan", "path", "polygon", "polyline", "ellipse",
             "circle", "rect", "line", "a", "defs", "linearGradient", "radialGradient", "stop"}


def clean_svg(data: bytes) -> str:
    """The renderer's SVG made safe to put inside the page: no declaration, doctype, comment,
    script, event handler, foreign element or link other than http(s)/``file:``."""
    # Imported here, not with the module: loading the export registry stays cheap.
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             remove_comments=True, remove_pis=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"the SVG is not well-formed XML: {exc}") from None
    if etree.QName(root).localname != "svg":
        raise ValueError("not an SVG document")
    for el in list(root.iter()):
        if not isinstance(el.tag, str):
            continue
        qn = etree.QName(el)
        if qn.namespace != _SVG_NS or qn.localname not in _SVG_TAGS:
            parent = el.getparent()
            if parent is not None:
                parent.remove(el)
            continue
        for attr in list(el.attrib):
            name = etree.QName(attr).localname.lower()
            if name.startswith("on") or name == "style" or (name == "href" and not href(el.attrib[attr])):
                del el.attrib[attr]
            elif name == "href":
                el.set(attr, href(el.attrib[attr]) or "")
    root.set("role", "img")
    root.set("aria-label", "PROV graph of the request")
    return etree.tostring(root, encoding="unicode")


def render(document: ProvDocument, *, request_id: str | None = None, languages: Sequence[str] = (),
           svg: bytes | None = None, picture_error: str | None = None) -> str:
    """The page for ``document``; ``svg`` is its picture (omitted: none drawn), else the reason."""
    story = Story(document)
    page = Page(story, languages)
    page_title, header = page.header(request_id)
    steps = "".join(page.step(i, s) for i, s in enumerate(story.steps, 1))
    if svg is not None:
        try:
            picture = f'<div class="picture">{clean_svg(svg)}</div>'
        except ValueError as exc:
            picture = f'<p class="muted">The picture could not be embedded: {esc(exc)}</p>'
    else:
        picture = f'<p class="muted">No picture: {esc(picture_error or "not drawn")}</p>'
    lang = "en"
    timeline = (f'<ol class="timeline">{steps}</ol>' if steps
                else '<p class="muted">No step of this request is recorded.</p>')
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="docket">'
        f"<title>{esc(page_title)}</title><style>{CSS}</style></head>"
        f"<body><main>{header}"
        f'<section aria-label="Timeline">{timeline}</section>'
        '<details class="graph"><summary>The PROV graph (all steps merged, each node drawn once)'
        f"</summary>{picture}</details>"
        "<footer>Times in UTC. Checksums are abbreviated: point at one for its full value. "
        "The complete record is in the PROV exports: <code>docket prov ID --format json</code> "
        "(or provn, xml, ttl, trig, jsonld).</footer>"
        "</main></body></html>\n"
    )


class TimelineHTML(Serializer):
    """A page for people: the request's steps as a timeline, the SVG graph below (export only)."""

    title = "HTML timeline"
    extension = "html"
    media_type = "text/html"
    #: :meth:`Docket.export_prov` passes ``request_id`` and the instance's ``languages``.
    contextual: ClassVar[bool] = True

    def serialize(self, document: ProvDocument, **options: Any) -> bytes:
        request_id = options.pop("request_id", None)
        languages = options.pop("languages", None) or ()
        draw = options.pop("picture", True)
        svg = error = None
        if draw:
            try:
                svg = SVG().serialize(document, **options)
            except RenderFailed as exc:
                error = str(exc)
        return render(document, request_id=request_id, languages=languages, svg=svg,
                      picture_error=error).encode("utf-8")


register("html", TimelineHTML)
