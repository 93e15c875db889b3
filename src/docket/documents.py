"""Reading JSON that strangers wrote: bounded before it becomes Python objects, errors that say where.

Every JSON document docket takes from outside (a request file, an offline form, an attachment, a
Table Schema) is read by :func:`parse_json` or :func:`load_json_file`; a document a Python caller
hands over (the form page passes dicts) is held to the same rules by :func:`check_json_value`.
What is refused, and why each is a refusal here rather than an accident further on:

* nesting deeper than ``max_depth``: Python's ``json`` recurses once per level, so a few thousand
  ``[`` end in ``RecursionError``; a pre-pass over the bytes counts the depth before any parsing;
* an integer of more than ``max_int_digits`` digits: Python refuses more than 4,300 itself (with a
  ``ValueError``), and converting long digit strings costs quadratic time;
* ``NaN``, ``Infinity``, ``-Infinity`` and numbers such as ``1e400`` that overflow to infinity: they
  are not JSON (RFC 8259); SQLite would store them as tokens no JSON reader accepts while
  PostgreSQL refuses them, so refusing them here makes both stores accept the same documents;
* a NUL character (``\\u0000``) in any string or key: PostgreSQL cannot store it in text or
  ``jsonb``, and it cuts file paths short;
* a lone surrogate (``\\ud800`` without its pair): not Unicode, it cannot be written as UTF-8;
* a key that appears twice in one object: ``json.loads`` silently keeps the last, so two readers
  (a person, another JSON library, a digest) could see two different documents. Refused, naming
  the key and where.

The common case stays at C speed: the pre-pass is a handful of whole-buffer byte operations, the
number hooks are only installed when the text holds a number long enough to need them, and the
walk over the parsed value only runs when the text holds an escape it has to look at (or a
duplicate key was met). The one per-object cost is the duplicate-key hook. On documents of
14-18 MB (``benchmarks/bounded_json.py``) it takes 1.3x (an array of numbers) and 1.6x (many
small objects) the time of plain ``json.loads``, and 4x (0.13 s against 0.03 s) for one huge
string full of escapes and brackets, where the pre-pass has the most to do.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable
from itertools import accumulate
from pathlib import Path
from typing import Any

from docket.errors import BadInput, NotFound, Problem
from docket.limits import DEFAULTS

MAX_DEPTH = DEFAULTS["max_json_depth"]
MAX_INT_DIGITS = DEFAULTS["max_json_int_digits"]
MAX_BYTES = DEFAULTS["max_request_bytes"]

_NOT_SKELETON = bytes(b for b in range(256) if b not in b'"[]{}')
# Digits as "0", exponent marks as "e", signs kept, all else a space: long numbers become
# substrings that ``in`` finds at C speed.
_NUMBER_SHAPES = bytes(
    ord("0") if chr(b).isdigit() and b < 128 else b if b in b"+-" else ord("e") if b in b"eE" else ord(" ")
    for b in range(256)
)
# Opening brackets as +1 and closing ones as -1 (0xFF read as a signed byte), for a running sum.
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
# Escapes that decode to something the walk must look at: NUL, or half of a surrogate pair.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
# A surrogate written raw into a ``str`` (UTF-8 with "surrogatepass" makes it ED A0..BF xx).
_RAW_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def json_path(parts: Iterable[Any]) -> str:
    """``$.metadata.files[0].name`` from a sequence of keys and indexes."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.match(str(part)):
            out += f".{part}"
        else:
            out += f"[{json.dumps(part, ensure_ascii=True)}]"
    return out


def load_json_file(path: str | Path, what: str = "file", *, max_bytes: int = MAX_BYTES,
                   max_depth: int = MAX_DEPTH, max_int_digits: int = MAX_INT_DIGITS) -> Any:
    """Parse a JSON file of at most ``max_bytes``; anything wrong is a BadInput naming the place.

    The size is checked before reading (a 300 MB file is refused without being read) and again
    while reading: at most ``max_bytes`` are read, and one more byte only to learn whether there is
    more, so a file that grows, a device or a pipe never makes docket hold more than the limit.
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > max_bytes:
                raise BadInput(f"{what} {p} is {size:,} bytes, more than the limit of {max_bytes:,} "
                               "([limits] in docket.toml)")
            raw = fh.read(max_bytes)
            if fh.read(1):
                raise BadInput(f"{what} {p} is more than the limit of {max_bytes:,} bytes "
                               "([limits] in docket.toml)")
    except FileNotFoundError:
        raise NotFound(f"{what} {p} does not exist") from None
    except IsADirectoryError:
        raise BadInput(f"{what} {p} is a folder, not a JSON file") from None
    except (OSError, ValueError) as exc:  # ValueError: a path with a NUL in it
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise BadInput(f"cannot read {what} {p}: {reason}") from None
    return parse_json(raw, str(p), max_depth=max_depth, max_int_digits=max_int_digits)


def load_descriptor(path: str | Path, what: str) -> Any:
    """A Frictionless-style descriptor (Table Schema, Table Dialect...) from its JSON file.

    A missing file is NotFound, and anything the bounded reader refuses is a BadInput that says
    which descriptor it was, so ``--schema`` and ``--dialect`` fail the same way.
    """
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"{path}: no such {what} file")
    try:
        return load_json_file(path, what)
    except BadInput as exc:
        raise BadInput(f"{path}: the {what} is not JSON docket accepts ({exc.message})",
                       exc.problems) from None


def parse_json(raw: bytes | str, where: str, *, max_depth: int = MAX_DEPTH,
               max_int_digits: int = MAX_INT_DIGITS) -> Any:
    """Strict, bounded JSON: the value, or a :class:`BadInput` that names ``where`` and the spot.

    The spot is a JSON path (``$.files[0].name``) for a bad value, a line and column for bad
    syntax or nesting. See the module docstring for what is refused and why.
    """
    if isinstance(raw, str):
        data = raw.encode("utf-8", "surrogatepass")
        text = raw
        raw_surrogates = _RAW_SURROGATE.search(data) is not None
    else:
        data = raw
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise BadInput(f"{where} is not UTF-8 text (byte {exc.start} is not valid UTF-8)") from None
        raw_surrogates = False
    _check_depth(data, where, max_depth)
    hooks = _number_hooks(data, max_int_digits)
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(items)
        if len(out) == len(items):
            return out
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                break
            seen.add(key)
        duplicates.append(key)
        return _Duplicated(out, key=key)

    try:
        value = json.loads(text, object_pairs_hook=pairs, parse_constant=_constant, **hooks)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{where} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                       [Problem(f"line {exc.lineno}, column {exc.colno}", exc.msg)]) from None
    except _Refused as exc:
        message, token = exc.args
        spot = _position_of_token(data, token.encode("utf-8"))
        raise BadInput(f"{where}: {message}{f' ({spot})' if spot else ''}",
                       [Problem(spot, message)] if spot else []) from None
    except (RecursionError, ValueError) as exc:  # the pre-pass should make these impossible
        raise BadInput(f"{where} is not valid JSON: {type(exc).__name__}: {exc}") from None
    if duplicates or raw_surrogates or _SUSPECT_ESCAPE.search(data):
        _explain(value, where, max_depth, 10**max_int_digits, max_int_digits)
    return value


def check_json_value(value: Any, where: str, *, max_depth: int = MAX_DEPTH,
                     max_int_digits: int = MAX_INT_DIGITS, max_bytes: int | None = None) -> None:
    """Hold a value built in Python (or parsed) to the rules :func:`parse_json` applies to text.

    Iterative, so a value nested a million levels deep is refused rather than overflowing the
    stack; the first problem found is raised as a :class:`BadInput` naming its JSON path. With
    ``max_bytes``, the value's canonical JSON must also fit (what a file would have to).

    It runs on every dict submitted through the Python API, so a fast pass (no paths, an upper
    bound of the JSON size instead of writing it) answers for clean values; only a value it has
    doubts about is walked again with paths, and only a large one is written out to be measured.
    """
    bound = 10**max_int_digits
    size = _scan(value, max_depth, bound, max_int_digits)
    if size is None:
        _explain(value, where, max_depth, bound, max_int_digits)
    if max_bytes is not None and (size is None or size > max_bytes):
        from docket.canonical import canonical_json

        exact = len(canonical_json(value))
        if exact > max_bytes:
            raise BadInput(f"{where} is {exact:,} bytes as JSON, more than the limit of {max_bytes:,} "
                           "([limits] in docket.toml)")


_FLOAT_SIZE = 26  # the longest repr of a finite float: -2.2250738585072014e-308


def _scan(value: Any, max_depth: int, bound: int, max_int_digits: int) -> int | None:
    """An upper bound of ``value``'s JSON size, or None when something in it needs a closer look."""
    inf = math.inf
    size = 0
    stack: list[tuple[Any, int]] = [(value, 1)] if type(value) in (dict, list) else []
    if not stack:
        return None  # a bare scalar: rare enough for the careful walk
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return None
        items = node
        if type(node) is dict:
            for key in node:
                if type(key) is not str or "\x00" in key or not key.isascii() and _SURROGATE.search(key):
                    return None
                size += 6 * len(key) + 4
            items = node.values()
        for item in items:
            kind = type(item)
            if kind is str:
                if "\x00" in item or not item.isascii() and _SURROGATE.search(item):
                    return None
                size += 6 * len(item) + 3
            elif kind is dict or kind is list:
                stack.append((item, depth + 1))
                size += 2
            elif kind is int:
                if not -bound < item < bound:
                    return None
                size += 22 if -(2**64) < item < 2**64 else max_int_digits + 2
            elif kind is float:
                if item != item or item == inf or item == -inf:
                    return None
                size += _FLOAT_SIZE
            elif item is None or kind is bool:
                size += 6
            else:  # a subclass, a tuple, a date...: the careful walk decides
                return None
    return size


def _explain(value: Any, where: str, max_depth: int, bound: int, max_int_digits: int) -> None:
    """Walk ``value`` with JSON paths and raise a BadInput for the first problem met."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        problem = None
        at = path
        if isinstance(node, str):
            bad = _text_problem(node)
            problem = f"the text {bad}" if bad else None
        elif isinstance(node, bool) or node is None:
            pass
        elif isinstance(node, int):
            if not -bound < node < bound:
                problem = f"an integer of more than {max_int_digits} digits"
        elif isinstance(node, float):
            if not math.isfinite(node):
                problem = f"{_float_name(node)} is not a JSON number"
        elif isinstance(node, dict | list):
            if len(path) >= max_depth:
                problem = f"nested more than {max_depth} levels deep"
            elif isinstance(node, list):
                stack.extend((item, (*path, i)) for i, item in reversed(list(enumerate(node))))
            else:
                if isinstance(node, _Duplicated):
                    problem, at = "the key appears twice in one object (JSON readers differ on which "\
                        "value counts)", (*path, node.key)
                for key in node:
                    if problem is not None:
                        break
                    if not isinstance(key, str):
                        problem = f"the key {key!r} is a {type(key).__name__}; JSON keys are text"
                    elif (bad := _text_problem(key)) is not None:
                        problem, at = f"the key {bad}", (*path, key)
                if problem is None:
                    stack.extend((item, (*path, key)) for key, item in reversed(node.items()))
        else:
            problem = f"a {type(node).__name__} is not a JSON value"
        if problem is not None:
            spot = json_path(at)
            raise BadInput(f"{where}: {spot}: {problem}", [Problem(spot, problem)])


def check_text(value: str, what: str) -> str:
    """A piece of free text from a user (a comment, a name): no NUL, no lone surrogate."""
    problem = _text_problem(value)
    if problem is not None:
        raise BadInput(f"{what} {problem}")
    return value


# -- internals ------------------------------------------------------------------------------------


class _Refused(Exception):
    """Raised by a parse hook; becomes a BadInput naming the document."""


class _Duplicated(dict):
    """An object in which a key appeared twice (the last value kept); the walk reports where."""

    def __init__(self, items: dict[str, Any], *, key: str) -> None:
        super().__init__(items)
        self.key = key


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number (JSON has no NaN or Infinity)", name)


def _float_name(value: float) -> str:
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _text_problem(text: str) -> str | None:
    """What is wrong with a string ("contains ..."), or None; ASCII text is checked at C speed."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000)"
    match = None if text.isascii() else _SURROGATE.search(text)
    if match:
        return (f"contains a lone surrogate (\\u{ord(match.group()):04x}), "
                "which is not a Unicode character")
    return None


def _skeleton(data: bytes) -> bytes:
    """The brackets of a JSON text that are syntax (not inside strings), in order.

    Escaped backslashes go first, then escaped quotes, so every quote left delimits a string (in
    any text that is JSON up to where the parser would stop). Everything but quotes and brackets
    is then dropped at C speed; two quotes side by side can be dropped too (an empty string, or
    the end of one string and the start of the next: either way nothing moves in or out of a
    string), which leaves only the few strings that hold brackets to be cut out.
    """
    if b"\\" in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    short = data.translate(None, _NOT_SKELETON).replace(b'""', b"")
    if b'"' in short:
        short = b"".join(short.split(b'"')[::2])
    return short


def _check_depth(data: bytes, where: str, max_depth: int) -> None:
    brackets = _skeleton(data)
    if len(brackets) <= max_depth:  # cannot open more levels than it has brackets
        return
    deepest = max(accumulate(memoryview(brackets.translate(_STEPS)).cast("b")), default=0)
    if deepest <= max_depth:
        return
    line, column = _position_of_depth(data, max_depth + 1)
    message = f"nested more than {max_depth} levels deep (at line {line}, column {column})"
    raise BadInput(f"{where} is {message}", [Problem(f"line {line}, column {column}",
                                                       f"nested more than {max_depth} levels deep")])


def _position_of_depth(data: bytes, depth: int) -> tuple[int, int]:
    """Line and column of the bracket that opens level ``depth`` (only run on a refusal)."""
    level = 0
    for match in _TOKEN.finditer(data):
        token = match.group()
        if token in (b"[", b"{"):
            level += 1
            if level >= depth:
                offset = match.start()
                line = data.count(b"\n", 0, offset) + 1
                column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
                return line, column
        elif token in (b"]", b"}"):
            level -= 1
    return 1, 1


def _position_of_token(data: bytes, token: bytes) -> str:
    """"line L, column C" of the first place ``token`` stands as a value of its own (only run on a
    refusal, to point at what was refused); "" when it cannot be found."""
    for match in re.finditer(re.escape(token), data):
        before = data[match.start() - 1:match.start()]
        after = data[match.end():match.end() + 1]
        if (not before or before not in b'"\\0123456789.-+eE') and (not after or after not in b'"0123456789.eE'):
            offset = match.start()
            line = data.count(b"\n", 0, offset) + 1
            column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
            return f"line {line}, column {column}"
    return ""


def _number_hooks(data: bytes, max_int_digits: int) -> dict[str, Any]:
    """``parse_int``/``parse_float`` checks, installed only when a long enough number may be there.

    A number can overflow a float only with an exponent of three digits or more, or with a long
    run of digits; an integer can be too long only as a long run of digits. The search runs over
    the whole text, strings included: a long digit string in a string only costs the slower
    hooks, never a wrong answer. Without either, the C parser keeps its fast paths.
    """
    hooks: dict[str, Any] = {}
    shapes = data.translate(_NUMBER_SHAPES)
    if b"0" * min(max_int_digits + 1, 100) in shapes:
        def parse_int(digits: str) -> int:
            count = len(digits.lstrip("-"))
            if count > max_int_digits:
                raise _Refused(f"an integer of {count:,} digits is more than the limit of {max_int_digits}", digits)
            return int(digits)

        hooks["parse_int"] = parse_int
    if hooks or b"e000" in shapes or b"e+000" in shapes or b"e-000" in shapes:
        def parse_float(number: str) -> float:
            value = float(number)
            if math.isinf(value):
                raise _Refused(f"the number {number[:20]}{'...' if len(number) > 20 else ''} "
                               "is too large for a JSON number (it overflows to Infinity)", number)
            return value

        hooks["parse_float"] = parse_float
    return hooks
