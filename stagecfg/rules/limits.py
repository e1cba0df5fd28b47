"""Stream's per-request caps (reference section 2): how much one request may carry.

The planner, apply and the backends cut their work to these sizes, and the sandbox refuses a
request beyond them as Stream does.
"""

from __future__ import annotations

#: Members in one UpdateCallMembers (``update_members`` and ``remove_members`` each) or CallRequest.
MEMBERS_PER_REQUEST = 100

#: The largest ``limit`` of QueryCalls, QueryCallMembers and QueryUsers: one page.
PAGE_LIMIT = 100

#: Users stagecfg sends in one UpdateUsers (Stream documents no cap; a page's worth keeps each
#: request small and each failure's blast radius one page).
USERS_PER_REQUEST = 100
