"""What every Python client script shares: inputs, checks, and one JSON line per step on stdout.

Inputs (see ../README.md): the URL as argv[1] or REGATE_URL; EXPECT_NAMES, a JSON list with the full_name of
customers 1, 2 and 3 (optional: without it only the ids are checked); DENY_SQL, the statement that must fail with
42501 (default: DELETE FROM public.orders).
"""

import json
import os
import sys
from typing import Any, Awaitable, Callable, Optional, Sequence

SELECT_3 = "SELECT id, full_name FROM public.customers ORDER BY id LIMIT 3"
DENIED = "42501"
IN_FAILED_TRANSACTION = "25P02"


class Scenario:
    def __init__(self, client: str) -> None:
        self.client = client
        url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("REGATE_URL", "")
        if not url:
            print(f"usage: {sys.argv[0]} URL (or set REGATE_URL)", file=sys.stderr)
            sys.exit(2)
        self.url = url
        self.deny_sql = os.environ.get("DENY_SQL") or "DELETE FROM public.orders"
        names = os.environ.get("EXPECT_NAMES")
        self.expect_names: Optional[list] = json.loads(names) if names else None
        self.failed = 0

    def step(self, step: str, ok: bool, **detail: Any) -> bool:
        if not ok:
            self.failed += 1
        print(json.dumps({"client": self.client, "step": step, "ok": ok, **detail}, default=str), flush=True)
        return ok

    def check_rows(self, step: str, rows: Sequence[Sequence[Any]], ids: Sequence[int]) -> bool:
        """rows must be (id, full_name) for exactly `ids`, with the expected names when they were given."""
        got = [[int(r[0]), r[1]] for r in rows]
        ok = [r[0] for r in got] == list(ids)
        if ok and self.expect_names is not None:
            ok = all(r[1] == self.expect_names[r[0] - 1] for r in got if 1 <= r[0] <= len(self.expect_names))
        return self.step(step, ok, rows=got, expected_ids=list(ids))

    def expect_sqlstate(self, step: str, action: Callable[[], Any], sqlstate: str,
                        sqlstate_of: Callable[[BaseException], Optional[str]]) -> bool:
        """action must raise a server error with `sqlstate`; success or any other error fails the step."""
        try:
            action()
        except Exception as error:  # noqa: BLE001 - the driver's error types differ; sqlstate_of sorts them
            got = sqlstate_of(error)
            return self.step(step, got == sqlstate, expected_sqlstate=sqlstate, sqlstate=got,
                             error=f"{type(error).__name__}: {error}".strip())
        return self.step(step, False, expected_sqlstate=sqlstate, error="no error raised")

    def run(self, step: str, action: Callable[[], Any]) -> Any:
        """Runs a step that must not raise; a raise fails the step and returns None."""
        try:
            result = action()
        except Exception as error:  # noqa: BLE001
            self.step(step, False, sqlstate=getattr(error, "sqlstate", None), error=f"{type(error).__name__}: {error}")
            return None
        self.step(step, True)
        return result

    def select(self, step: str, action: Callable[[], Sequence[Sequence[Any]]], ids: Sequence[int]) -> bool:
        """action returns (id, full_name) rows; they must be exactly `ids`."""
        try:
            rows = action()
        except Exception as error:  # noqa: BLE001
            return self.step(step, False, sqlstate=getattr(error, "sqlstate", None),
                             error=f"{type(error).__name__}: {error}".strip())
        return self.check_rows(step, rows, ids)

    # Async twins of the helpers above, for asyncio drivers.

    async def aselect(self, step: str, action: Callable[[], Awaitable[Sequence[Sequence[Any]]]],
                      ids: Sequence[int]) -> bool:
        try:
            rows = await action()
        except Exception as error:  # noqa: BLE001
            return self.step(step, False, sqlstate=getattr(error, "sqlstate", None),
                             error=f"{type(error).__name__}: {error}".strip())
        return self.check_rows(step, rows, ids)

    async def aexpect_sqlstate(self, step: str, action: Callable[[], Awaitable[Any]], sqlstate: str,
                               sqlstate_of: Callable[[BaseException], Optional[str]]) -> bool:
        try:
            await action()
        except Exception as error:  # noqa: BLE001
            got = sqlstate_of(error)
            return self.step(step, got == sqlstate, expected_sqlstate=sqlstate, sqlstate=got,
                             error=f"{type(error).__name__}: {error}".strip())
        return self.step(step, False, expected_sqlstate=sqlstate, error="no error raised")

    async def arun(self, step: str, action: Callable[[], Awaitable[Any]]) -> Any:
        try:
            result = await action()
        except Exception as error:  # noqa: BLE001
            self.step(step, False, sqlstate=getattr(error, "sqlstate", None), error=f"{type(error).__name__}: {error}")
            return None
        self.step(step, True)
        return result

    def finish(self) -> None:
        sys.exit(1 if self.failed else 0)
