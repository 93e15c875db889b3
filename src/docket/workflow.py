"""The workflow of an ingest request: six steps, their statuses, and the review state machine.

Transitions are enforced here, by role, so that no form, importer or script can skip one: the
API calls :func:`check_review_transition` and :func:`check_step_change` before it writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from docket.errors import BadInput, Refused

# step -> the PROV activity (and template) that records it
STEPS: dict[str, str] = {
    "request": "submission",
    "review": "review",
    "transfer": "transfer",
    "qa": "qa-run",
    "publication": "publication",
    "archive": "archiving",
}
STATUSES = ("open", "in-progress", "action-required", "paused", "closed")
OUTCOMES = ("accepted", "rejected", "failed", "done")
REVIEW_STATES = ("draft", "submitted", "approved", "rejected", "retired")
ROLES = ("provider", "reviewer", "data-manager", "admin", "system")

# (from, to) -> roles allowed
REVIEW_TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    ("draft", "submitted"): frozenset({"provider", "data-manager"}),
    # withdrawn by its provider to edit, or sent back by a reviewer asking for changes
    ("submitted", "draft"): frozenset({"provider", "reviewer", "data-manager"}),
    ("submitted", "approved"): frozenset({"reviewer", "data-manager"}),
    ("submitted", "rejected"): frozenset({"reviewer", "data-manager"}),
    ("rejected", "draft"): frozenset({"provider", "data-manager"}),
    ("approved", "retired"): frozenset({"data-manager"}),
}

# Which roles may move which step; "system" runs transfer, qa and archive.
STEP_ROLES: dict[str, frozenset[str]] = {
    "request": frozenset({"provider", "data-manager"}),
    "review": frozenset({"reviewer", "data-manager"}),
    "transfer": frozenset({"system", "data-manager"}),
    "qa": frozenset({"system", "data-manager"}),
    "publication": frozenset({"data-manager"}),
    "archive": frozenset({"system", "data-manager"}),
}


def initial_steps() -> dict[str, dict[str, str]]:
    """A freshly submitted request: the request step done, review waiting, the rest open."""
    steps = {step: {"status": "open"} for step in STEPS}
    steps["request"] = {"status": "closed", "outcome": "done"}
    return steps


def check_role(role: str) -> None:
    if role not in ROLES:
        raise BadInput(f"unknown role {role!r}; roles are {', '.join(ROLES)}")


def acts_as(role: str) -> str:
    """The workflow role an account's role plays: an admin is a data manager who also manages
    accounts, so the tables here name only the four workflow roles."""
    return "data-manager" if role == "admin" else role


def check_review_transition(current: str, target: str, role: str) -> None:
    """Refuse (exit 3) a review transition the state machine or the role does not allow."""
    check_role(role)
    if target not in REVIEW_STATES:
        raise BadInput(f"unknown review state {target!r}; states are {', '.join(REVIEW_STATES)}")
    role = acts_as(role)
    allowed = REVIEW_TRANSITIONS.get((current, target))
    if allowed is None:
        nexts = sorted(t for (f, t) in REVIEW_TRANSITIONS if f == current)
        hint = f"from {current} it can go to {', '.join(nexts)}" if nexts else f"{current} is final"
        raise Refused(f"a request cannot go from {current} to {target}: {hint} (rule review-states)",
                      rule="review-states")
    if role not in allowed:
        raise Refused(f"role {role} may not move a request from {current} to {target} "
                      f"(allowed: {', '.join(sorted(allowed))}; rule review-roles)", rule="review-roles")


@dataclass(frozen=True)
class StepChange:
    step: str
    status: str
    outcome: str | None = None


# Steps that must have ended well (closed/done) before a step may start: a failed transfer, a qa
# that found errors in the data (rejected) or could not complete (failed) block publication, and
# only a published dataset is archived. A step itself may run again whatever its own outcome.
PRECONDITIONS: dict[str, tuple[str, ...]] = {
    "qa": ("transfer",),
    "publication": ("transfer", "qa"),
    "archive": ("publication",),
}


def check_step_change(change: StepChange, role: str, review_state: str,
                      steps: dict[str, dict] | None = None) -> None:
    """Refuse a step change that its role may not make, or that the request's state forbids."""
    check_role(role)
    if change.step not in STEPS:
        raise BadInput(f"unknown step {change.step!r}; steps are {', '.join(STEPS)}")
    if change.status not in STATUSES:
        raise BadInput(f"unknown status {change.status!r} for step {change.step}; statuses are {', '.join(STATUSES)}")
    if change.outcome is not None and change.outcome not in OUTCOMES:
        raise BadInput(f"unknown outcome {change.outcome!r}; outcomes are {', '.join(OUTCOMES)}")
    if (change.status == "closed") != (change.outcome is not None):
        raise BadInput(f"step {change.step}: an outcome is given exactly when the status is closed")
    role = acts_as(role)
    if role not in STEP_ROLES[change.step]:
        raise Refused(f"role {role} may not change the {change.step} step "
                      f"(allowed: {', '.join(sorted(STEP_ROLES[change.step]))}; rule step-roles)", rule="step-roles")
    if change.step in ("transfer", "qa", "publication", "archive") and review_state != "approved":
        raise Refused(f"the {change.step} step needs an approved request; this one is {review_state} "
                      "(rule step-needs-approval)", rule="step-needs-approval")
    if steps is not None and change.status in ("in-progress", "closed"):
        for before in PRECONDITIONS.get(change.step, ()):
            state = steps.get(before, {})
            if not (state.get("status") == "closed" and state.get("outcome") == "done"):
                found = state.get("status", "open") + (f"/{state['outcome']}" if state.get("outcome") else "")
                raise Refused(f"the {change.step} step needs {before} closed/done first; {before} is {found} "
                              "(rule step-order)", rule="step-order")


def step_filter(step: str | None, status: str | None):
    """A test of one step's state for ``docket list --step S --status X``, or None for no filter.

    ``X`` is a status (``open``, ``in-progress``, ``closed``...) or an outcome (``done``,
    ``rejected``, ``failed``...), which means closed with it. Unknown names are bad input that
    names the allowed values.
    """
    if step is None and status is None:
        return None
    if step is None or status is None:
        raise BadInput("--step and --status go together: a step and the status (or outcome) to keep")
    if step not in STEPS:
        raise BadInput(f"unknown step {step!r}; steps are {', '.join(STEPS)}")
    allowed = STATUSES + OUTCOMES
    if status not in allowed:
        raise BadInput(f"unknown status {status!r} for step {step}; give a status ({', '.join(STATUSES)}) "
                       f"or an outcome ({', '.join(OUTCOMES)})")
    if status in OUTCOMES:
        return lambda state: state.get("status") == "closed" and state.get("outcome") == status
    return lambda state: state.get("status", "open") == status
