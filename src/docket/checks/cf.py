"""CF conformance through the IOOS compliance-checker, as a check family (``cf.*``).

compliance-checker's ``cf`` checker runs every rule of the CF version the file declares (its
``Conventions`` attribute; the newest version the checker knows when the file declares none) and
gives each failing rule a priority. docket keeps that judgement and maps it onto its own
severities through three checks, so a data centre can re-weigh or switch off each level in
``docket.toml`` ``[severities]`` like any other check:

=============  ==================  ==================
priority        check               default severity
=============  ==================  ==================
HIGH (3)        ``cf.high``         error
MEDIUM (2)      ``cf.medium``       warn
LOW (1)         ``cf.low``          info
=============  ==================  ==================

Each failure becomes one location: the variable it is about in ``column`` (compliance-checker's
own ``variable_name`` when it sets one, else the first variable of the file its message names),
the CF section in ``path`` and compliance-checker's message in ``note``.

Offline by construction: compliance-checker would download the CF standard-name table a file
names in ``standard_name_vocabulary`` and look taxon identifiers up on lsid.info and WoRMS; docket
keeps the table bundled with compliance-checker (or the one ``CF_STANDARD_NAME_TABLE`` points
to) and skips ``check_taxa``, so a QA run never waits on the network. If compliance-checker is
not installed, the three checks are ``not-checked`` and say so; nothing else changes.
"""

from __future__ import annotations

import importlib
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from docket.checks.base import CheckResult
from docket.checks.media import NETCDF, FileCheck, FileSubject
from docket.checks.netcdf import cf_version, plural, summary
from docket.checks.registry import register

#: CF versions compliance-checker 5-6 has a checker for (``compliance_checker.cf.cf.CF1_<n>Check``).
VERSIONS = (6, 7, 8, 9, 10, 11)
#: compliance-checker's priorities (``BaseCheck.HIGH``...) by the name docket shows.
PRIORITIES = {3: "HIGH", 2: "MEDIUM", 1: "LOW"}
#: Checker methods that reach the network; skipped, and said so in a note when they would apply.
OFFLINE_SKIP = ("check_taxa",)


@dataclass
class Failure:
    """One failing rule: its priority, CF section, message and the variable it is about."""

    weight: int
    section: str
    message: str
    variable: str | None


@dataclass
class CfRun:
    """What one compliance-checker run found; ``error`` when it could not run."""

    error: str | None = None
    checker: str = ""
    failures: list[Failure] = field(default_factory=list)
    rules: Counter = field(default_factory=Counter)


def checker_version(conventions: Any) -> tuple[int, str]:
    """The CF minor version to check against, and how it was chosen (for the report)."""
    declared = cf_version(conventions) if conventions is not None else None
    newest = VERSIONS[-1]
    if declared is None:
        return newest, f"the file declares no CF version: checked against CF-1.{newest}"
    major, minor = declared
    if major != 1 or minor > newest:
        return newest, f"the file declares CF-{major}.{minor}: checked against CF-1.{newest}, the newest known"
    if minor < VERSIONS[0]:
        return VERSIONS[0], f"the file declares CF-1.{minor}: checked against CF-1.{VERSIONS[0]}, the oldest known"
    return minor, f"checked against CF-1.{minor}, as declared"


def cf_run(subject: FileSubject) -> CfRun:
    """compliance-checker's findings on the file, run once and kept in ``subject.cache``."""
    if "cf" not in subject.cache:
        subject.cache["cf"] = _run(subject)
    return subject.cache["cf"]


def _run(subject: FileSubject) -> CfRun:
    info = summary(subject)
    if info.error is not None:
        return CfRun(error=f"the file cannot be opened ({info.error})")
    try:
        import netCDF4
        from compliance_checker.suite import CheckSuite

        cf_module = importlib.import_module("compliance_checker.cf.cf")
    except ImportError as exc:
        return CfRun(error=f"compliance-checker is not installed ({exc.name or exc}), so CF "
                           "conformance was not checked")
    minor, how = checker_version(info.attrs.get("Conventions", info.attrs.get("conventions")))
    checker_class = getattr(cf_module, f"CF1_{minor}Check", None)
    if checker_class is None:
        return CfRun(error=f"this compliance-checker has no CF-1.{minor} checker")
    run = CfRun(checker=f"CF-1.{minor}")
    subject.notes.append(f"{subject.name}: CF conformance {how} (compliance-checker)")
    if any(str(v.attrs.get("standard_name", "")).startswith("biological_taxon")
           for v in info.variables.values()):
        subject.notes.append(f"{subject.name}: taxon identifiers were not looked up (compliance-checker's "
                             "check_taxa needs the network; docket runs offline)")
    variables = sorted(info.variables, key=len, reverse=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = netCDF4.Dataset(str(subject.path), "r")
        try:
            checker = checker_class()
            # Keep the bundled standard-name table: never download the one the file names.
            checker._find_cf_standard_name_table = lambda ds: False
            try:
                checker.setup(ds)
            except Exception as exc:  # noqa: BLE001 - a third-party checker: report, never crash
                return CfRun(error=f"compliance-checker could not start on the file: "
                                   f"{type(exc).__name__}: {exc}")
            suite = CheckSuite()
            for method, level in suite._get_checks(checker, {}, _NoSkips()):
                name = method.__func__.__name__
                if name in OFFLINE_SKIP:
                    continue
                try:
                    results = suite._run_check(method, ds, level)
                except Exception as exc:  # noqa: BLE001
                    subject.notes.append(f"{subject.name}: compliance-checker's {name} could not run: "
                                         f"{type(exc).__name__}: {exc}")
                    continue
                for result in results:
                    _collect(run, result, variables)
        finally:
            ds.close()
    return run


class _NoSkips(dict):
    """The skip table compliance-checker's ``_get_checks`` reads: no rule is skipped by level."""

    def __missing__(self, key: str) -> None:
        return None


def _collect(run: CfRun, result: Any, variables: list[str]) -> None:
    """Count one compliance-checker Result and keep its failures."""
    value = result.value
    if value is None:
        return
    weight = int(result.weight) if result.weight in PRIORITIES else 1
    run.rules[weight] += 1
    failed = value[0] < value[1] if isinstance(value, tuple) else not value
    if not failed:
        return
    section = result.name if isinstance(result.name, str) else " / ".join(map(str, result.name or ()))
    messages = [str(m) for m in result.msgs if m] or [f"{section}: rule failed"]
    for message in messages:
        variable = result.variable_name if isinstance(result.variable_name, str) else _named(message, variables)
        run.failures.append(Failure(weight, section, message, variable))


def _named(message: str, variables: list[str]) -> str | None:
    """The variable a message is about: the one named first in it (longest names tried first)."""
    best: tuple[int, str] | None = None
    for name in variables:
        match = re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", message)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), name)
    return best[1] if best else None


class _CfCheck(FileCheck):
    family = "cf"
    kinds = (NETCDF,)
    weight = 3
    expected = "no failure of compliance-checker's CF rules of this priority"
    suggestion = ("Fix what compliance-checker names (the CF section and variable are in each "
                  "location); `compliance-checker --test cf FILE` shows the same findings.")

    def check(self, subject: FileSubject) -> CheckResult:
        run = cf_run(subject)
        if run.error is not None:
            return self.not_checked(run.error, subject.name)
        level = PRIORITIES[self.weight]
        expected = f"no {level}-priority failure of compliance-checker's {run.checker} rules"
        failures = [f for f in run.failures if f.weight == self.weight]
        findings = self.findings(subject.name)
        for f in failures:
            findings.add([None], f.variable, [None], extra={"path": f.section, "note": f.message})
        if not failures:
            return self.result(expected=expected, file=subject.name,
                               found=f"{plural(run.rules[self.weight], f'{level}-priority {run.checker} rule')} pass")
        sections = Counter(f.section for f in failures)
        listed = ", ".join(f"{s} ({n})" for s, n in sorted(sections.items()))
        return self.result(findings, expected=expected,
                           found=f"{plural(len(failures), f'{level}-priority {run.checker} failure')}: {listed}")


@register
class High(_CfCheck):
    id = "cf.high"
    name = "CF conformance: high priority"
    description = ("compliance-checker's HIGH-priority CF rules (what CF requires: units, "
                   "standard names, coordinate types...).")
    default_severity = "error"
    weight = 3


@register
class Medium(_CfCheck):
    id = "cf.medium"
    name = "CF conformance: medium priority"
    description = "compliance-checker's MEDIUM-priority CF rules (what CF recommends)."
    default_severity = "warn"
    weight = 2


@register
class Low(_CfCheck):
    id = "cf.low"
    name = "CF conformance: low priority"
    description = "compliance-checker's LOW-priority CF rules (good practice)."
    default_severity = "info"
    weight = 1
