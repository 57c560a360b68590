"""The regate client scenario through pg8000 (pure Python, its own protocol code and type codecs).

    .venv/bin/python sidecar/test/clients/python/pg8000_client.py postgres://agent:token@127.0.0.1:PORT/regate_test

pg8000's native API (`Connection.run`, `:name` placeholders) sends every statement through the extended protocol
with the unnamed statement and portal, and parameters in text with the types it infers; `prepare()` makes a named
statement run again by Bind alone; its DB-API `executemany` is one such run per row.
"""

from typing import Optional
from urllib.parse import unquote, urlparse

import pg8000.dbapi
import pg8000.native

from scenario import DENIED, IN_FAILED_TRANSACTION, SELECT_3, Scenario

SELECT_BY_ID = "SELECT id, full_name FROM public.customers WHERE id = :id"


def sqlstate_of(error: BaseException) -> Optional[str]:
    # pg8000 raises DatabaseError with the server's fields as a dict in args[0]; "C" is the SQLSTATE.
    if isinstance(error, pg8000.native.DatabaseError) and error.args and isinstance(error.args[0], dict):
        return error.args[0].get("C")
    return None


def connect_args(url: str) -> dict:
    u = urlparse(url)
    return {"user": unquote(u.username or ""), "password": unquote(u.password or ""), "host": u.hostname,
            "port": u.port or 5432, "database": u.path.lstrip("/"), "timeout": 30}


def main() -> None:
    sc = Scenario("pg8000")
    args = connect_args(sc.url)
    try:
        conn = pg8000.native.Connection(**args)
    except Exception as error:  # noqa: BLE001
        sc.step("connect", False, error=f"{type(error).__name__}: {error}")
        sc.finish()
        return
    sc.step("connect", True, server_version=conn.parameter_statuses.get("server_version"))

    try:
        # a) allowed queries, without and with a parameter (pg8000 rewrites :id to $1)
        sc.select("select_rows", lambda: conn.run(SELECT_3), [1, 2, 3])
        sc.select("select_param", lambda: conn.run(SELECT_BY_ID, id=2), [2])

        # b) denied; the connection goes on
        sc.expect_sqlstate("deny", lambda: conn.run(sc.deny_sql), DENIED, sqlstate_of)
        sc.select("after_deny", lambda: conn.run(SELECT_BY_ID, id=1), [1])

        # c) a denial inside a transaction aborts it until ROLLBACK
        sc.run("tx_begin", lambda: conn.run("BEGIN"))
        sc.select("tx_select", lambda: conn.run(SELECT_3), [1, 2, 3])
        sc.expect_sqlstate("tx_deny", lambda: conn.run(sc.deny_sql), DENIED, sqlstate_of)
        sc.expect_sqlstate("tx_aborted", lambda: conn.run(SELECT_3), IN_FAILED_TRANSACTION, sqlstate_of)
        sc.run("tx_rollback", lambda: conn.run("ROLLBACK"))
        sc.select("after_rollback", lambda: conn.run(SELECT_3), [1, 2, 3])

        # d) a named statement run again by Bind alone; a denied one refused at its run, the named one goes on
        stmt = sc.run("prepare", lambda: conn.prepare(SELECT_BY_ID))
        if stmt is not None:
            for round_ in range(3):
                sc.select(f"prepared_{round_}", lambda: stmt.run(id=3), [3])

        def prepare_and_run_denied() -> None:
            denied = conn.prepare(sc.deny_sql)  # regate may already refuse the Parse
            denied.run()

        sc.expect_sqlstate("prepared_deny", prepare_and_run_denied, DENIED, sqlstate_of)
        if stmt is not None:
            sc.select("prepared_after_deny", lambda: stmt.run(id=3), [3])
    finally:
        conn.close()

    # e) the DB-API: %s placeholders, executemany, a denial, then commit on the same connection
    try:
        dbapi = pg8000.dbapi.connect(**args)
        cur = dbapi.cursor()
        sc.run("dbapi_executemany", lambda: cur.executemany("SELECT id FROM public.customers WHERE id = %s", [(1,), (2,)]))
        sc.expect_sqlstate("dbapi_deny", lambda: cur.execute(sc.deny_sql), DENIED, sqlstate_of)
        sc.run("dbapi_rollback", dbapi.rollback)

        def dbapi_select():
            cur.execute(SELECT_3.replace("LIMIT 3", "LIMIT %s"), (3,))
            return cur.fetchall()

        sc.select("dbapi_after_deny", dbapi_select, [1, 2, 3])
        dbapi.close()
    except Exception as error:  # noqa: BLE001
        sc.step("dbapi", False, error=f"{type(error).__name__}: {error}")
    sc.finish()


if __name__ == "__main__":
    main()
