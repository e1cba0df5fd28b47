"""Stream Video's rules, written once: pure functions and tables, no I/O, no backend, no click.

Everything that says how Stream behaves lives here, and the sandbox engine, the planner, the
manifest checks, the access report and the plan's access review all ask these modules instead of
keeping a copy (import-linter holds this package to ``stagecfg.model`` and
``stagecfg.timestamps``):

* :mod:`~stagecfg.rules.permissions`: permission ids, their ``-owner`` / ``-any-team`` scopes,
  and the capability each one unlocks;
* :mod:`~stagecfg.rules.settings`: the shape of call settings and the one settings merge (how a
  call's effective settings come from its call type's settings plus ``settings_override``);
* :mod:`~stagecfg.rules.builtins`: the four built-in call types and the template new call types
  start from, and how a call type request changes a call type;
* :mod:`~stagecfg.rules.roles`: how roles (app role plus call member role, ``-owner`` for the
  creator, per-call grants and revocations) become permissions and capabilities, who may do
  nothing in a call at all (blocked, deactivated, deleted), and ``own_capabilities``;
* :mod:`~stagecfg.rules.join`: the join window of a scheduled call and the join decision
  (backstage, ``join_ahead_time_seconds``, live, stopped and ended);
* :mod:`~stagecfg.rules.limits`: how much one request may carry (members, users, a page).
"""
