"""docket's quality checks and quality report.

``check_table(path, schema)`` runs the data checks on one CSV file (what ``docket check`` does);
``check_request(record, files, measured)`` runs every check on a request: metadata completeness,
congruence of the received files with what was declared, and the data checks of each tabular file
against the request's Table Schema. Both return a :class:`Report`, whose JSON form is documented in
docs/quality-report.md and validated by ``report.schema.json``.

Checks live in a registry (:mod:`docket.checks.registry`); third parties add their own through the
``docket.checks`` entry-point group. Severities can be overridden per run with a mapping
``{check_id: "info" | "warn" | "error" | "off"}`` (an instance's docket.toml ``[severities]``).
"""

from docket.checks._run import check_request, check_table, load_table_schema
from docket.checks.base import CheckResult, RecordCheck, TableCheck
from docket.checks.registry import all_checks, get, register
from docket.checks.report import REPORT_VERSION, Report, report_schema, validate_report

__all__ = [
    "REPORT_VERSION",
    "CheckResult",
    "RecordCheck",
    "Report",
    "TableCheck",
    "all_checks",
    "check_request",
    "check_table",
    "get",
    "load_table_schema",
    "register",
    "report_schema",
    "validate_report",
]
