"""``docket jobs``: list the queued, running, done and failed jobs (mail, DOI...);
``docket jobs run`` runs the due ones; ``docket jobs retry ID`` queues a failed one again."""

from __future__ import annotations

import argparse

from docket.cli.context import open_docket
from docket.cli.output import add_json_flag, emit, printable


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("jobs", help="list background jobs (mail...); 'jobs run' runs the due ones",
                       description="List jobs, newest first (default: all). Subcommands: run, retry.")
    p.add_argument("--failed", action="store_true", help="only the failed jobs")
    p.add_argument("--status", choices=["queued", "running", "done", "failed"], help="only jobs in this status")
    p.add_argument("--request", metavar="ID", help="only the jobs of this request")
    p.add_argument("--limit", type=int, metavar="N", help="at most N jobs")
    add_json_flag(p)
    p.set_defaults(func=list_jobs)
    actions = p.add_subparsers(dest="jobs_command", metavar="ACTION")
    r = actions.add_parser("run", help="run the jobs that are due now, and print what happened")
    r.add_argument("--limit", type=int, metavar="N", help="run at most N jobs")
    add_json_flag(r)
    r.set_defaults(func=run_jobs)
    t = actions.add_parser("retry", help="queue a failed job again, due now")
    t.add_argument("id", metavar="ID", help="the job's number (docket jobs --failed)")
    t.add_argument("--force", action="store_true",
                   help="also requeue a job stuck in 'running' (its worker died); it may then run twice")
    add_json_flag(t)
    t.set_defaults(func=retry_job)


def _positive(value: int | None, flag: str) -> int | None:
    from docket.errors import BadInput

    if value is not None and value < 1:
        raise BadInput(f"{flag} must be at least 1, not {value}")
    return value


def _line(job: dict) -> str:
    when = f"  next {job['next_try'][:19].replace('T', ' ')}" if job["status"] == "queued" and job["next_try"] else ""
    error = f"\n      {job['last_error']}" if job["last_error"] and job["status"] != "done" else ""
    return f"{job['id']:>5}  {job['status']:<7} {job['kind']:<7} tries {job['attempts']}{when}  {job['what']}{error}"


def list_jobs(args: argparse.Namespace) -> int:
    from docket.jobs import listing

    status = "failed" if args.failed else args.status
    with open_docket(args) as d:
        jobs = listing(d, status=status, request_id=args.request, limit=_positive(args.limit, "--limit"))
    text = "\n".join(_line(j) for j in jobs) if jobs else f"no {status or ''} jobs".replace("  ", " ")
    emit(args, jobs, printable(text))
    return 0


def run_jobs(args: argparse.Namespace) -> int:
    from docket.jobs import run

    with open_docket(args) as d:
        summary = run(d, limit=_positive(args.limit, "--limit"))
    lines = [f"{summary['claimed']} run: {summary['done']} done, {summary['retried']} to retry, "
             f"{summary['failed']} failed"]
    for job in summary["jobs"]:
        later = f" (next try {job['next_try'][:19].replace('T', ' ')})" if job["next_try"] else ""
        lines.append(f"{job['id']:>5}  {job['status']:<7} {job['what']}{later}")
        if job["error"]:
            lines.append(f"      {job['error']}")
    emit(args, summary, "\n".join(lines))
    # 1: the run found problems (a job did not go out); 0: all went out, or nothing was due.
    return 1 if summary["retried"] or summary["failed"] else 0


def retry_job(args: argparse.Namespace) -> int:
    from docket.errors import BadInput
    from docket.jobs import retry

    if not args.id.isdigit() or len(args.id) > 12:
        raise BadInput(f"job ID must be a number (docket jobs lists them), not {args.id!r}")
    with open_docket(args) as d:
        job = retry(d, int(args.id), force=args.force)
    emit(args, job, f"job {job['id']} queued again: {job['what']}")
    return 0
