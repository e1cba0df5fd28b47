"""The plan: what must change so that the backend matches the manifests. Pure data, no I/O.

:func:`make_plan` compares a :class:`~stagecfg.model.DesiredState` with an
:class:`~stagecfg.model.ActualState` and returns a :class:`Plan`, an ordered tuple of
:class:`Change` values, each carrying the exact request body that apply will send. Only what the
manifests declare is compared, so server defaults never show up as a diff. Stream's own rules
(the settings merge, the built-in call types, backstage) are asked of :mod:`stagecfg.rules`.

The modules, in import order (each imports only those above it):

* :mod:`~stagecfg.plan.changes`: the change model (:class:`Plan`, :class:`Change`,
  :class:`FieldChange`, :class:`Note`, actions, stages, JSON); what render, saved plans, safety,
  apply and the access review need, and it imports nothing else of the planner;
* :mod:`~stagecfg.plan.fingerprints`: canonical JSON and the fingerprints a saved plan checks;
* :mod:`~stagecfg.plan.comparison`: comparing declared subsets and shaping request bodies;
* :mod:`~stagecfg.plan.users`, :mod:`~stagecfg.plan.call_types`, :mod:`~stagecfg.plan.calls`:
  one planner per kind;
* :mod:`~stagecfg.plan.planner`: :func:`make_plan`, with targets and prune.
"""

from __future__ import annotations

from stagecfg.plan.changes import (
    ABSENT,
    ACTION_CREATE,
    ACTION_DELETE,
    ACTION_GO_LIVE,
    ACTION_STOP_LIVE,
    ACTION_UPDATE,
    LIVE_ACTIONS,
    STAGE_CALL_DELETES,
    STAGE_CALL_TYPE_DELETES,
    STAGE_CALL_TYPES,
    STAGE_CALLS,
    STAGE_LIVE,
    STAGE_USERS,
    Change,
    FieldChange,
    Note,
    Plan,
    target_name,
)
from stagecfg.plan.fingerprints import canonical_json, fingerprint, fingerprints_of
from stagecfg.plan.planner import make_plan

__all__ = [
    "ABSENT",
    "ACTION_CREATE",
    "ACTION_DELETE",
    "ACTION_GO_LIVE",
    "ACTION_STOP_LIVE",
    "ACTION_UPDATE",
    "LIVE_ACTIONS",
    "STAGE_CALLS",
    "STAGE_CALL_DELETES",
    "STAGE_CALL_TYPES",
    "STAGE_CALL_TYPE_DELETES",
    "STAGE_LIVE",
    "STAGE_USERS",
    "Change",
    "FieldChange",
    "Note",
    "Plan",
    "canonical_json",
    "fingerprint",
    "fingerprints_of",
    "make_plan",
    "target_name",
]
