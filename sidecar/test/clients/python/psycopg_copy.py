"""COPY FROM STDIN through psycopg 3 (Cursor.copy: a simple Query, then CopyData rows and CopyDone).

Prints one line per step, "<step> <outcome>": "ok", or the SQLSTATE the copy failed with, or the value read.
Driven by sidecar/test/clients/psycopg-copy.test.ts, which judges by the rows in the database.

    .venv/bin/python sidecar/test/clients/python/psycopg_copy.py postgres://agent:token@127.0.0.1:PORT/regate_test
"""

import sys
from datetime import datetime, timezone
from decimal import Decimal

import psycopg

ORDERS = "COPY orders (customer_id, amount, status, created_at) FROM STDIN"
STEPS = [
    ("orders-text", ORDERS, [(1, "4601.00", "pending", "2026-01-01"), (2, "4601.00", "paid", "2026-01-02")]),
    ("orders-binary", ORDERS + " (FORMAT binary)", []),
    ("payments", "COPY payments (order_id, amount, card_number, status) FROM STDIN", [(1, "4602.00", "4111111111111111", "authorized")]),
    ("customers", "COPY customers (full_name, email, created_at) FROM STDIN", [("Eve", "eve.4603@example.com", "2026-01-01")]),
    ("internal", "COPY internal.api_keys (owner, secret) FROM STDIN", [("eve", "secret-4604")]),
    ("search-path", "SET search_path TO internal, public; COPY api_keys (owner, secret) FROM STDIN", [("eve", "secret-4605")]),
]


def copy(conn: psycopg.Connection, statement: str, rows: list) -> str:
    try:
        with conn.cursor() as cur:
            with cur.copy(statement) as cp:
                for row in rows:
                    cp.write_row(row)
        return "ok"
    except psycopg.Error as error:
        return error.sqlstate or type(error).__name__


def main() -> None:
    with psycopg.connect(sys.argv[1], autocommit=True, connect_timeout=10) as conn:
        for name, statement, rows in STEPS:
            print(name, copy(conn, statement, rows), flush=True)
        # The binary copy above sent no rows: one typed row, as psycopg encodes it.
        with conn.cursor() as cur:
            with cur.copy(ORDERS + " (FORMAT binary)") as cp:
                cp.set_types(["int4", "numeric", "text", "timestamptz"])
                cp.write_row((3, Decimal("4606.00"), "pending", datetime(2026, 1, 3, tzinfo=timezone.utc)))
        print("orders-binary-row ok", flush=True)
        # In a transaction: the refused COPY fails it, and the INSERT before it is rolled back with it.
        try:
            with conn.transaction():
                conn.execute("INSERT INTO orders (customer_id, amount, status, created_at) VALUES (1, 4607.00, 'pending', now())")
                outcome = copy(conn, "COPY payments (order_id, amount, card_number, status) FROM STDIN", [(1, "4607.00", "4111111111111111", "authorized")])
            print("transaction", outcome, flush=True)
        except psycopg.Error as error:
            print("transaction", error.sqlstate, flush=True)
        print("masked-after", conn.execute("SELECT ssn FROM customers WHERE id = %s", [2]).fetchone()[0], flush=True)


if __name__ == "__main__":
    main()
