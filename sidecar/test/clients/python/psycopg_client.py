"""The regate client scenario through psycopg 3 (libpq underneath; extended protocol for every query).

    .venv/bin/python sidecar/test/clients/python/psycopg_client.py postgres://agent:token@127.0.0.1:PORT/regate_test
"""

from typing import Optional

import psycopg

from scenario import DENIED, IN_FAILED_TRANSACTION, SELECT_3, Scenario

SELECT_BY_ID = "SELECT id, full_name FROM public.customers WHERE id = %s"
# %b sends the parameter in binary format; binary=True asks for binary results too.
SELECT_BY_ID_BINARY = "SELECT id, full_name FROM public.customers WHERE id = %b"


def sqlstate_of(error: BaseException) -> Optional[str]:
    return error.sqlstate if isinstance(error, psycopg.Error) else None


def main() -> None:
    sc = Scenario("psycopg")
    try:
        conn = psycopg.connect(sc.url, autocommit=True, connect_timeout=10)
    except Exception as error:  # noqa: BLE001
        sc.step("connect", False, error=f"{type(error).__name__}: {error}")
        sc.finish()
        return
    sc.step("connect", True, server_version=conn.info.server_version, psycopg=psycopg.__version__)

    with conn:
        # a) allowed queries, without and with a parameter
        sc.select("select_rows", lambda: conn.execute(SELECT_3).fetchall(), [1, 2, 3])
        sc.select("select_param", lambda: conn.execute(SELECT_BY_ID, (2,)).fetchall(), [2])

        # b) a denied statement, then the same connection goes on
        sc.expect_sqlstate("deny", lambda: conn.execute(sc.deny_sql), DENIED, sqlstate_of)
        sc.select("after_deny", lambda: conn.execute(SELECT_BY_ID, (1,)).fetchall(), [1])

        # c) a denial inside a transaction aborts it until ROLLBACK
        sc.run("tx_begin", lambda: conn.execute("BEGIN"))
        sc.select("tx_select", lambda: conn.execute(SELECT_3).fetchall(), [1, 2, 3])
        sc.expect_sqlstate("tx_deny", lambda: conn.execute(sc.deny_sql), DENIED, sqlstate_of)
        sc.expect_sqlstate("tx_aborted", lambda: conn.execute(SELECT_3).fetchall(), IN_FAILED_TRANSACTION, sqlstate_of)
        sc.step("tx_state_inerror", conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR,
                transaction_status=conn.info.transaction_status.name)
        sc.run("tx_rollback", lambda: conn.execute("ROLLBACK"))
        sc.select("after_rollback", lambda: conn.execute(SELECT_3).fetchall(), [1, 2, 3])

        # d) binary parameters and binary results
        sc.select("binary_param", lambda: conn.cursor(binary=True).execute(SELECT_BY_ID_BINARY, (3,)).fetchall(), [3])

        # Server-side prepared statements (named, reused), before and after a denial.
        for round_ in range(3):
            sc.select(f"prepared_{round_}", lambda: conn.execute(SELECT_BY_ID, (2,), prepare=True).fetchall(), [2])
        sc.expect_sqlstate("prepared_deny", lambda: conn.execute(sc.deny_sql, prepare=True), DENIED, sqlstate_of)
        sc.select("prepared_after_deny", lambda: conn.execute(SELECT_BY_ID, (2,), prepare=True).fetchall(), [2])

        # Pipeline mode: several Parse/Bind/Execute before one Sync.
        def pipelined() -> list:
            with conn.pipeline():
                cursors = [conn.execute(SELECT_BY_ID, (i,)) for i in (1, 2, 3)]
            return [row for cur in cursors for row in cur.fetchall()]

        sc.select("pipeline", pipelined, [1, 2, 3])
    sc.finish()


if __name__ == "__main__":
    main()
