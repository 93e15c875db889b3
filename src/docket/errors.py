"""The errors docket raises, each carrying the exit code DESIGN.md gives it.

The CLI turns any :class:`DocketError` into its one-line message and exit code, so a user never
sees a traceback; the Python API raises the same objects, so callers can tell a refusal from a
conflict without parsing text.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (a JSON path, a file, a row...) and what.

    ``id`` and ``values``, when set, name the message in :mod:`docket.messages` (its catalogue
    gives the words in each language; ``message`` is the English one), so the page, the offline
    notebook, the import report and the CLI word the same problem the same way. Two problems are
    the same problem when their place and English message are.
    """

    where: str
    message: str
    id: str = field(default="", compare=False)
    values: dict[str, str] = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message

    def as_dict(self) -> dict[str, str]:
        out = {"where": self.where, "message": self.message}
        if self.id:
            out["id"] = self.id
        return out


class DocketError(Exception):
    """Base of every error docket reports to a user; ``exit_code`` follows DESIGN.md."""

    exit_code = 2

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems or [])

    def as_dict(self) -> dict:
        out: dict = {"error": type(self).__name__, "message": self.message}
        if self.problems:
            out["problems"] = [p.as_dict() for p in self.problems]
        return out


class ProblemsFound(DocketError):
    """The operation ran and found problems (e.g. QA errors)."""

    exit_code = 1


class BadInput(DocketError):
    """Bad input or usage; nothing was changed."""

    exit_code = 2


class InvalidDocument(BadInput):
    """A document failed its JSON Schema; ``problems`` lists every error with its JSON path."""


class NotFound(BadInput):
    """An id, file or format that does not exist."""


class InstanceError(BadInput):
    """The instance folder is missing, unreadable or broken."""


class StoreUnavailable(DocketError):
    """The database cannot be reached or opened; nothing was changed."""

    exit_code = 2


class Refused(DocketError):
    """The role or the state does not allow the operation; ``rule`` names the rule that refused.

    (A refusal is also written to the audit log by the API, with who, what and from where.)
    """

    exit_code = 3

    def __init__(self, message: str, problems: list[Problem] | None = None, *, rule: str | None = None) -> None:
        super().__init__(message, problems)
        self.rule = rule

    def as_dict(self) -> dict:
        out = super().as_dict()
        if self.rule:
            out["rule"] = self.rule
        return out


class Conflict(DocketError):
    """Someone else changed the record first."""

    exit_code = 4
