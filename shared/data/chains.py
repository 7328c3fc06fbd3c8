"""The job budget of a chain's root: how many jobs its whole tree has caused (SPEC part three).

One counter item per root. A firing reads it, plans within what is left, and spends what it fires
in the same transaction as the jobs: ``ADD`` under the condition that the sum stays within the
budget, so concurrent firings of one tree never overspend it together, and never wait on each other
while it holds (the one that would overspend loses the condition, re-reads and plans again). The item expires through the table's TTL a while after its last firing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.data import keys
from shared.data.items import key, n, s
from shared.data.save import Write
from shared.data.table import TTL_ATTRIBUTE

# The name a lost condition on the counter carries (``StaleEntityError.entity``).
CHAIN_BUDGET = "chain budget"
# A root's count is kept this long after its last firing: longer than any chain's jobs live.
KEPT_FOR = timedelta(days=30)
_USED = "jobs_used"


class ChainBudgets:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def used(self, root_job_id: str) -> int:
        """Jobs the root's tree has caused so far (0 for a root that has fired nothing)."""
        item = self._client.get_item(
            TableName=self._table, Key=key(keys.chain_budget_key(root_job_id)), ConsistentRead=True
        ).get("Item")
        return int(item[_USED]["N"]) if item and _USED in item else 0

    def spend(self, root_job_id: str, jobs: int, budget: int, now: datetime) -> Write:
        """Count ``jobs`` more against the root, if that keeps it within ``budget``: otherwise the
        transaction is cancelled (a concurrent firing of the same tree spent it first) and the
        firing decides again on the count as it is now."""
        values: dict[str, Any] = {
            ":jobs": n(jobs),
            ":ceiling": n(budget - jobs),
            ":expires": n(int((now + KEPT_FOR).timestamp())),
            ":type": s(keys.CHAIN_BUDGET_ENTITY),
        }
        operation = {
            "TableName": self._table,
            "Key": key(keys.chain_budget_key(root_job_id)),
            "UpdateExpression": f"SET entity_type = :type, {TTL_ATTRIBUTE} = :expires ADD {_USED} :jobs",
            "ConditionExpression": f"attribute_not_exists({_USED}) OR {_USED} <= :ceiling",
            "ExpressionAttributeValues": values,
        }
        return Write({"Update": operation}, CHAIN_BUDGET)
