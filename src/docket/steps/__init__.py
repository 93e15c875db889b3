"""Workflow steps that do work beyond a state change: transfer, QA, publication, ... one module each.

Each step module takes a :class:`~docket.steps.context.StepContext` (the instance, its store and
settings, and the person the step acts for), does its work outside any transaction (a transfer
can take hours), then records the outcome, the step's own rows and its PROV in one transaction
through :meth:`StepContext.set_step`. No step imports :mod:`docket.api`: the API is above them
and orchestrates (``tests/test_layers.py`` holds this).
"""
