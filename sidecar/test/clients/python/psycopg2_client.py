"""The regate client scenario through psycopg2 (libpq underneath). psycopg2 interpolates parameters on the
client, so every statement reaches regate as a simple Query with its values as literals; its named cursors
are server-side cursors (DECLARE ... CURSOR WITHOUT HOLD / WITH HOLD, then FETCH FORWARD n).

    .venv/bin/python sidecar/test/clients/python/psycopg2_client.py postgres://agent:token@127.0.0.1:PORT/regate_test
"""

import threading
from typing import Optional

import psycopg2
import psycopg2.extensions
import psycopg2.extras

from scenario import DENIED, IN_FAILED_TRANSACTION, SELECT_3, Scenario

SELECT_BY_ID = "SELECT id, full_name FROM public.customers WHERE id = %s"
QUERY_CANCELED = "57014"


def sqlstate_of(error: BaseException) -> Optional[str]:
    return error.pgcode if isinstance(error, psycopg2.Error) else None


def main() -> None:
    sc = Scenario("psycopg2")
    try:
        conn = psycopg2.connect(sc.url, connect_timeout=10)
    except Exception as error:  # noqa: BLE001
        sc.step("connect", False, error=f"{type(error).__name__}: {error}")
        sc.finish()
        return
    sc.step("connect", True, server_version=conn.server_version, psycopg2=psycopg2.__version__)
    conn.autocommit = True
    cur = conn.cursor()

    def fetch(sql: str, args: Optional[tuple] = None) -> list:
        cur.execute(sql, args)
        return cur.fetchall()

    sc.select("select_rows", lambda: fetch(SELECT_3), [1, 2, 3])
    sc.select("select_param", lambda: fetch(SELECT_BY_ID, (2,)), [2])
    # A literal psycopg2 quotes as E'...' (a backslash) next to a quote and a semicolon: regate reads the
    # same single statement the server does.
    sc.select("select_quoted", lambda: fetch(
        "SELECT id, full_name FROM public.customers WHERE full_name <> %s AND id = ANY(%s) ORDER BY id",
        ("it's a \\ ; DELETE FROM public.orders; --", [1, 3])), [1, 3])
    sc.expect_sqlstate("deny", lambda: cur.execute(sc.deny_sql), DENIED, sqlstate_of)
    sc.select("after_deny", lambda: fetch(SELECT_BY_ID, (1,)), [1])

    # psycopg2 opens the transaction itself (BEGIN before the first statement) once autocommit is off.
    conn.autocommit = False
    sc.select("tx_select", lambda: fetch(SELECT_3), [1, 2, 3])
    sc.expect_sqlstate("tx_deny", lambda: cur.execute(sc.deny_sql), DENIED, sqlstate_of)
    sc.expect_sqlstate("tx_aborted", lambda: fetch(SELECT_3), IN_FAILED_TRANSACTION, sqlstate_of)
    sc.step("tx_state_inerror", conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_INERROR,
            transaction_status=conn.info.transaction_status)
    sc.run("tx_rollback", conn.rollback)
    sc.select("after_rollback", lambda: fetch(SELECT_3), [1, 2, 3])
    sc.run("tx_end", conn.rollback)

    # Named cursors: DECLARE then FETCH FORWARD itersize, one row per round trip here.
    def named(name: str, withhold: bool) -> list:
        named_cur = conn.cursor(name=name, withhold=withhold)
        named_cur.itersize = 1
        named_cur.execute("SELECT id, full_name FROM public.customers WHERE id <= %s ORDER BY id", (3,))
        if withhold:
            conn.commit()  # a WITH HOLD cursor outlives its transaction
        rows = list(named_cur)
        named_cur.close()
        conn.commit()
        return rows

    sc.select("named_cursor", lambda: named("regate_nc", False), [1, 2, 3])
    sc.select("named_cursor_withhold", lambda: named("regate_nc_hold", True), [1, 2, 3])

    conn.autocommit = True

    # execute_values pages the rows into one VALUES list per statement.
    sc.select("execute_values", lambda: psycopg2.extras.execute_values(
        cur, "SELECT c.id, c.full_name FROM public.customers c JOIN (VALUES %s) AS v(id) ON v.id = c.id ORDER BY c.id",
        [(1,), (2,), (3,)], fetch=True), [1, 2, 3])

    # A CancelRequest through regate reaches the statement the session runs upstream. A cancel that lands
    # before the statement started does nothing, so a slow machine gets another one every 3 s.
    def cancelled() -> None:
        done = threading.Event()

        def canceller() -> None:
            delay = 0.5
            while not done.wait(delay):
                conn.cancel()
                delay = 3

        thread = threading.Thread(target=canceller)
        thread.start()
        try:
            cur.execute("SELECT pg_sleep(60)")
        finally:
            done.set()
            thread.join()

    sc.expect_sqlstate("cancel", cancelled, QUERY_CANCELED, sqlstate_of)
    sc.select("after_cancel", lambda: fetch(SELECT_BY_ID, (3,)), [3])
    conn.close()
    sc.finish()


if __name__ == "__main__":
    main()
