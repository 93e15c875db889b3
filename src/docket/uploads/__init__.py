"""Files from the provider's browser: resumable uploads (tus 1.0) into the instance's ``inbox/``.

* :mod:`docket.uploads.store` keeps each upload's state on disk (``inbox/uploads/<id>/``), hashes
  md5 and sha256 in the same pass as the write, and moves finished uploads into
  ``inbox/<request-id>/`` when the page stores the request (:class:`~docket.uploads.store.Placement`).
* :mod:`docket.uploads.handler` speaks tus over HTTP in ``docket serve`` (``/docket/uploads/``).
* :mod:`docket.uploads.locations` says where a file entry's location is on disk (relative
  locations are relative to ``inbox/``) and which locations can never be transferred.

See docs/uploads.md.
"""

from docket.uploads.locations import location_problems, resolve_location
from docket.uploads.store import Placement, UploadStore

__all__ = ["Placement", "UploadStore", "location_problems", "resolve_location"]
