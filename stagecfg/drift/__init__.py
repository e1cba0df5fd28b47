"""Drift: what changed in the live app outside stagecfg, and adopting it into the manifests.

The data flow, one module per step:

- ``report``: the differences, field by field, read off a plan from the manifests to the app
  (a plan lists every declared field that differs; drift reads it the other way round);
- ``origins``: for each field, the file that sets it (an overlay, else the base), where, and
  whether a ``${...}`` variable gives it;
- ``adoption``: the differences as edits of those files (``drift --write``), and the ones that
  cannot be adopted, each with why;
- ``edits``: the edits made with ruamel.yaml's round trip, keeping comments, order, quoting,
  styles and anchors;
- ``writing``: the edited files checked (loaded, validated and planned again against the same
  app, which must then show no drift) before any is written, and their unified diff;
- ``rendering``: the report as text, JSON, Markdown and GitHub annotations.
"""
