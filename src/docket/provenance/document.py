"""A request's PROV document, assembled from the bundles its steps appended.

Each step wrote one bundle (a row of its own), so appending never rewrites earlier provenance and
costs the same however many requests the store holds. Reading puts the bundles back together and
describes each bundle as a ``prov:Bundle`` entity carrying the template that produced it.
"""

from __future__ import annotations

import json
from typing import Any

from prov.model import PROV, ProvDocument

from docket.provenance import identifiers as ids


def assemble(rows: list[dict[str, Any]], base_uri: str) -> ProvDocument:
    doc = ProvDocument()
    for prefix, uri in ids.context(base_uri).items():
        doc.add_namespace(prefix, uri)
    for row in rows:
        part = ProvDocument.deserialize(content=json.dumps(row["bundle"]), format="json")
        for ns in part.get_registered_namespaces():
            doc.add_namespace(ns)
        for bundle in part.bundles:
            doc.add_bundle(bundle)
        doc.entity(
            row["bundle_id"],
            {
                PROV["type"]: PROV["Bundle"],
                f"{ids.VOCAB_PREFIX}:template": row["template"],
                f"{ids.VOCAB_PREFIX}:templateDigest": row["template_digest"],
                f"{ids.VOCAB_PREFIX}:step": row["step"],
            },
        )
    return doc


def picture(rows: list[dict[str, Any]]) -> ProvDocument:
    """The request's bundles merged into one graph, for drawing.

    In the document each step's bundle is its own graph, so a drawing shows the request's
    revision, the provider or docket itself once per step, unconnected. Merged, the same node is
    drawn once and the picture reads as the request's story: submitted, reviewed, transferred,
    checked.
    """
    merged = ProvDocument()
    for row in rows:
        part = ProvDocument.deserialize(content=json.dumps(row["bundle"]), format="json")
        merged.update(part.flattened())
    return merged.unified()
