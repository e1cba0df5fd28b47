"""GitHub's REST API and the Actions job around a run, for the pull-request loop (I/O).

- :mod:`~stagecfg.github.client`: bounded requests with status and shape checks, retries
  within bounds (rate limits, 5xx), the token masked everywhere.
- :mod:`~stagecfg.github.context`: the ``GITHUB_*`` variables and the event file, checked.
- :mod:`~stagecfg.github.comment`: the sticky comment, found by its hidden marker (paginated),
  created once and then updated; the pull request of a merged commit.
- :mod:`~stagecfg.github.issue`: the drift issue, one open per environment, found by its
  marker (paginated), opened, updated, or closed when the drift is gone.
- :mod:`~stagecfg.github.summary`: the job summary file, appended within GitHub's bound.
- :mod:`~stagecfg.github.publish`: the summary with the comment (``--github-comment``) or with
  the drift issue (``drift --github-issue``).

What the comment or issue says is rendered in :mod:`stagecfg.render` (which never imports this
package); this package only moves the text.
"""
