"""The regate client scenario through asyncpg (its own protocol code: named prepared statements, binary format).

    .venv/bin/python sidecar/test/clients/python/asyncpg_client.py postgres://agent:token@127.0.0.1:PORT/regate_test

asyncpg sends `execute(sql)` without arguments as a simple Query and everything else through the extended
protocol (Parse/Describe first, then Bind/Execute), so denials are tried both ways.
"""

import asyncio
from typing import Optional

import asyncpg

from scenario import DENIED, IN_FAILED_TRANSACTION, SELECT_3, Scenario

SELECT_BY_ID = "SELECT id, full_name FROM public.customers WHERE id = $1"


def sqlstate_of(error: BaseException) -> Optional[str]:
    return error.sqlstate if isinstance(error, asyncpg.PostgresError) else None


async def main() -> None:
    sc = Scenario("asyncpg")
    try:
        conn = await asyncpg.connect(sc.url, timeout=10)
    except Exception as error:  # noqa: BLE001
        sc.step("connect", False, error=f"{type(error).__name__}: {error}")
        sc.finish()
        return
    sc.step("connect", True, server_version=str(conn.get_server_version()), asyncpg=asyncpg.__version__)

    try:
        # a) allowed queries, without and with a (binary) parameter
        await sc.aselect("select_rows", lambda: conn.fetch(SELECT_3), [1, 2, 3])
        await sc.aselect("select_param", lambda: conn.fetch(SELECT_BY_ID, 2), [2])

        # b) denied through the simple and the extended protocol; the connection goes on
        await sc.aexpect_sqlstate("deny", lambda: conn.execute(sc.deny_sql), DENIED, sqlstate_of)
        await sc.aselect("after_deny", lambda: conn.fetch(SELECT_BY_ID, 1), [1])
        await sc.aexpect_sqlstate("deny_extended", lambda: conn.fetch(sc.deny_sql), DENIED, sqlstate_of)
        await sc.aselect("after_deny_extended", lambda: conn.fetch(SELECT_3), [1, 2, 3])

        # c) a denial inside a transaction aborts it until ROLLBACK
        await sc.arun("tx_begin", lambda: conn.execute("BEGIN"))
        await sc.aselect("tx_select", lambda: conn.fetch(SELECT_3), [1, 2, 3])
        await sc.aexpect_sqlstate("tx_deny", lambda: conn.execute(sc.deny_sql), DENIED, sqlstate_of)
        await sc.aexpect_sqlstate("tx_aborted", lambda: conn.fetch(SELECT_3), IN_FAILED_TRANSACTION, sqlstate_of)
        await sc.arun("tx_rollback", lambda: conn.execute("ROLLBACK"))
        sc.step("tx_closed", not conn.is_in_transaction())
        await sc.aselect("after_rollback", lambda: conn.fetch(SELECT_3), [1, 2, 3])

        # d) binary parameters: an explicitly prepared statement, run again and again under its name
        stmt = await sc.arun("prepare", lambda: conn.prepare(SELECT_BY_ID))
        if stmt is not None:
            for round_ in range(6):
                await sc.aselect(f"binary_param_{round_}", lambda: stmt.fetch(3), [3])

        async def prepare_and_run_denied() -> None:
            denied = await conn.prepare(sc.deny_sql)  # regate may already refuse the Parse
            await denied.fetch()

        await sc.aexpect_sqlstate("prepared_deny", prepare_and_run_denied, DENIED, sqlstate_of)
        if stmt is not None:
            await sc.aselect("prepared_after_deny", lambda: stmt.fetch(3), [3])

        # Several Bind/Execute before one Sync.
        await sc.arun("executemany", lambda: conn.executemany(SELECT_BY_ID, [(1,), (2,), (3,)]))
        await sc.aselect("after_executemany", lambda: conn.fetch(SELECT_BY_ID, 2), [2])
    finally:
        await conn.close(timeout=5)
    sc.finish()


if __name__ == "__main__":
    asyncio.run(main())
