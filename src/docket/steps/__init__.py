"""Workflow steps that do work beyond a state change: transfer, QA, ... one module each.

Each step module takes a :class:`~docket.api.Docket`, does its work outside any transaction (a
transfer can take hours), then records the outcome, the resource registry rows and the step's PROV
in one transaction through :meth:`Docket.set_step`.
"""
