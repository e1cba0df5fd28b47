"""The backend's call types, calls and users as a manifest (``stagecfg export``).

The export is diff-clean, idempotent and minimal: planning it against the same app shows no
changes, two exports of one app are the same bytes (and so are an export and the export of a
fresh app it was applied to), and server defaults a manifest does not need are left out. Each
kind has its module (:mod:`.call_types`, :mod:`.calls`, :mod:`.users`); :mod:`.document` puts
them together and :mod:`.fitting` holds the schema fitting and leaf differences they share.
"""

from __future__ import annotations

from stagecfg.export.document import dump_manifest, export_manifest, read_for_export, users_of
from stagecfg.export.fitting import fit_to_schema
from stagecfg.export.users import USER_CHOICES

__all__ = [
    "USER_CHOICES",
    "dump_manifest",
    "export_manifest",
    "fit_to_schema",
    "read_for_export",
    "users_of",
]
