"""Reports for people: the quality report as a page a data provider can read.

The JSON quality report (:mod:`docket.checks.report`) is for machines and the executed QA
notebook is for the data manager; a provider who is told "your data have errors" needs neither
code nor JSON, but a page in their own language that says what was expected, what was found,
where, and what to do. :func:`docket.reports.html.render` makes that page from any report.

Importing this package loads nothing heavy (no Jinja2, no matplotlib), so the command line can
name it while it builds its parser; :mod:`docket.reports.html` loads them when it renders.
"""
