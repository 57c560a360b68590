// Scenarios through database/sql and github.com/lib/pq, whose protocol code differs from pgx's: a query with
// arguments is Parse (unnamed) + Describe statement + Sync, then Bind + Execute + Sync with no Describe of the
// portal (rows are decoded by the statement's Describe); with binary_parameters=yes it is one Parse + Bind +
// Describe portal + Execute + Sync, []byte arguments in binary; a query without arguments is a simple Query.
// It has its own COPY (pq.CopyIn) and its own error type (*pq.Error).
//
//	go build -o pqclient ./pq && ./pqclient postgres://agent:token@127.0.0.1:PORT/regate_test?sslmode=disable read
//	./pqclient URL approval ID         # UPDATE payments SET amount = amount + 1 WHERE id = $1, then SELECT 42
//	./pqclient URL approval-cancel ID  # the same, its context cancelled when a line arrives on stdin
//
// One JSON line per step on stdout, saying what the driver got (rows, rows affected, SQLSTATE); the test that
// runs it (sidecar/test/postgres/libpq-go-driver.test.ts) judges them. Exit status 1 when a step did not get
// the outcome it expected (rows, or the SQLSTATE it names), 2 for bad usage.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/lib/pq"
)

const denied = "42501"

type stepResult struct {
	Client   string  `json:"client"`
	Step     string  `json:"step"`
	OK       bool    `json:"ok"`
	Expected string  `json:"expected"`
	Rows     [][]any `json:"rows,omitempty"`
	Affected *int64  `json:"affected,omitempty"`
	SQLState string  `json:"sqlstate,omitempty"`
	Error    string  `json:"error,omitempty"`
}

var failed bool

func report(r stepResult) {
	r.Client = "pq"
	if !r.OK {
		failed = true
	}
	line, _ := json.Marshal(r)
	fmt.Println(string(line))
}

// outcome fills in what an error says: the SQLSTATE when it is a *pq.Error (and only then: the test asks
// that lib/pq's own type reached the caller), and whether that is the outcome the step expected.
func outcome(r *stepResult, err error) {
	if err == nil {
		r.OK = r.Expected == "rows"
		return
	}
	r.Error = err.Error()
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		r.SQLState = string(pqErr.Code)
	}
	r.OK = r.SQLState != "" && r.SQLState == r.Expected
}

// value turns what lib/pq scanned into JSON: text arrives as []byte.
func value(v any) any {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v
}

func query(ctx context.Context, conn *sql.Conn, name, expected, sqlText string, args ...any) {
	r := stepResult{Step: name, Expected: expected}
	rows, err := conn.QueryContext(ctx, sqlText, args...)
	if err == nil {
		err = func() error {
			defer rows.Close()
			cols, err := rows.Columns()
			if err != nil {
				return err
			}
			r.Rows = [][]any{}
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					return err
				}
				for i := range vals {
					vals[i] = value(vals[i])
				}
				r.Rows = append(r.Rows, vals)
			}
			return rows.Err()
		}()
	}
	outcome(&r, err)
	report(r)
}

func exec(ctx context.Context, conn *sql.Conn, name, expected, sqlText string, args ...any) {
	r := stepResult{Step: name, Expected: expected}
	res, err := conn.ExecContext(ctx, sqlText, args...)
	if err == nil {
		n, aerr := res.RowsAffected()
		if aerr == nil {
			r.Affected = &n
		}
		err = aerr
	}
	outcome(&r, err)
	report(r)
}

// copyIn adds orders through pq.CopyIn, committed when all went.
func copyIn(ctx context.Context, db *sql.DB, name string, ids []int) {
	copyRows(ctx, db, name, "rows", pq.CopyIn("orders", "id", "customer_id", "amount", "status", "created_at"), ids, func(id int) []any {
		return []any{id, 1, "12.50", "pending", "2024-01-02T03:04:05Z"}
	})
}

// copyRows sends one row per id through the COPY statement `copySQL` (from pq.CopyIn) in a transaction of its own.
func copyRows(ctx context.Context, db *sql.DB, name, expected, copySQL string, ids []int, row func(int) []any) {
	r := stepResult{Step: name, Expected: expected}
	err := func() error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
		stmt, err := tx.PrepareContext(ctx, copySQL)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := stmt.ExecContext(ctx, row(id)...); err != nil {
				stmt.Close()
				return err
			}
		}
		res, err := stmt.ExecContext(ctx)
		if err != nil {
			stmt.Close()
			return err
		}
		if n, err := res.RowsAffected(); err == nil {
			r.Affected = &n
		}
		if err := stmt.Close(); err != nil {
			return err
		}
		return tx.Commit()
	}()
	outcome(&r, err)
	report(r)
}

// prepared runs one named statement (db.Prepare: Parse with a name, Describe, Sync) twice, by Bind alone.
func prepared(ctx context.Context, conn *sql.Conn, suffix, sqlText string, ids ...int) {
	stmt, err := conn.PrepareContext(ctx, sqlText)
	if err != nil {
		r := stepResult{Step: "prepare" + suffix, Expected: "rows"}
		outcome(&r, err)
		report(r)
		return
	}
	defer stmt.Close()
	for i, id := range ids {
		r := stepResult{Step: fmt.Sprintf("prepared_%d%s", i+1, suffix), Expected: "rows", Rows: [][]any{}}
		var vals [5]any
		err := stmt.QueryRowContext(ctx, id).Scan(&vals[0], &vals[1], &vals[2], &vals[3], &vals[4])
		if err == nil {
			row := make([]any, len(vals))
			for j, v := range vals {
				row[j] = value(v)
			}
			r.Rows = append(r.Rows, row)
		}
		outcome(&r, err)
		report(r)
	}
}

// inTx: a refusal inside a transaction fails it (25P02 next) until ROLLBACK, like a server error.
func inTx(ctx context.Context, db *sql.DB, suffix string) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		report(stepResult{Step: "tx_begin" + suffix, Error: err.Error()})
		return
	}
	run := func(name, expected, sqlText string, args ...any) {
		r := stepResult{Step: name + suffix, Expected: expected}
		var n int
		err := tx.QueryRowContext(ctx, sqlText, args...).Scan(&n)
		if err == nil {
			r.Rows = [][]any{{n}}
		}
		outcome(&r, err)
		report(r)
	}
	run("tx_select", "rows", "SELECT count(*) FROM public.customers WHERE id <= $1", 3)
	run("tx_refused", denied, "SELECT id FROM internal.api_keys WHERE id = $1", 1)
	run("tx_aborted", "25P02", "SELECT 1")
	r := stepResult{Step: "tx_rollback" + suffix, Expected: "rows"}
	outcome(&r, tx.Rollback())
	report(r)
}

// read runs the reading, refusing and writing steps on one connection, so the session is seen to live on after
// each refusal. With binary_parameters=yes in the URL the steps with arguments take lib/pq's other path.
func read(ctx context.Context, url, suffix string, copyIDs []int) {
	db, err := sql.Open("postgres", url)
	if err != nil {
		report(stepResult{Step: "open" + suffix, Error: err.Error()})
		return
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		report(stepResult{Step: "connect" + suffix, Error: err.Error()})
		return
	}
	defer conn.Close()
	s := func(n string) string { return n + suffix }
	const cols = "SELECT id, full_name, email, ssn, phone FROM public.customers"
	query(ctx, conn, s("masked_no_args"), "rows", cols+" WHERE id IN (1, 2) ORDER BY id")
	query(ctx, conn, s("masked_args"), "rows", cols+" WHERE id = $1", 2)
	query(ctx, conn, s("masked_expr_args"), "rows", "SELECT id, length(ssn) AS ssn_len, upper(email) AS email_up FROM public.customers WHERE id = $1", 2)
	query(ctx, conn, s("masked_where_masked"), "rows", "SELECT id, email FROM public.customers WHERE email = (SELECT email FROM public.customers WHERE id = $1)", 3)
	// bytea results are asked for in binary when lib/pq has described the statement first.
	query(ctx, conn, s("masked_bytea_args"), "rows", "SELECT id, convert_to(ssn, 'UTF8') AS ssn_bytes FROM public.customers WHERE id = $1", 2)
	if strings.Contains(url, "binary_parameters=yes") {
		// A []byte argument goes in binary: four bytes of int4 for id = 2.
		query(ctx, conn, s("masked_binary_arg"), "rows", cols+" WHERE id = $1::int4", []byte{0, 0, 0, 2})
	}
	query(ctx, conn, s("refused_no_args"), denied, "SELECT * FROM internal.api_keys")
	query(ctx, conn, s("after_refused"), "rows", "SELECT 42 AS answer")
	query(ctx, conn, s("refused_args"), denied, "SELECT * FROM internal.api_keys WHERE id = $1", 1)
	query(ctx, conn, s("after_refused_args"), "rows", "SELECT id FROM public.customers WHERE id = $1", 1)
	query(ctx, conn, s("notify_masked"), denied, "SELECT pg_notify('regate_pq', ssn) FROM public.customers WHERE id = $1", 2)
	exec(ctx, conn, s("update_no_where"), denied, "UPDATE public.orders SET status = 'cancelled'")
	exec(ctx, conn, s("delete_no_where"), denied, "DELETE FROM public.orders")
	exec(ctx, conn, s("update_where"), "rows", "UPDATE public.orders SET status = 'shipped' WHERE id = $1", 1)
	exec(ctx, conn, s("update_where_no_args"), "rows", "UPDATE public.orders SET status = 'paid' WHERE id = 2")
	copyIn(ctx, db, s("copy_in"), copyIDs)
	prepared(ctx, conn, suffix, cols+" WHERE id = $1", 2, 3)
	inTx(ctx, db, suffix)
	// Into a table with masked columns COPY is refused (the example policy: its rows are not masked).
	copyRows(ctx, db, s("copy_in_masked"), denied, pq.CopyIn("customers", "id", "full_name", "email", "ssn", "created_at"), []int{copyIDs[0] + 500}, func(id int) []any {
		return []any{id, "Copy Person", fmt.Sprintf("copy%d@example.org", id), "123-45-6789", "2024-01-02T03:04:05Z"}
	})
	query(ctx, conn, s("after_copy"), "rows", "SELECT count(*) FROM public.orders WHERE id = ANY($1)", pq.Array(copyIDs))
}

// listen waits on a pq.Listener (a connection of its own, LISTEN as a simple Query) for a NOTIFY sent on
// another connection, then sends a masked value through pg_notify, which must be refused.
func listen(ctx context.Context, url string) {
	r := stepResult{Step: "listen_notify", Expected: "rows"}
	err := func() error {
		l := pq.NewListener(url, 10*time.Millisecond, time.Second, nil)
		defer l.Close()
		if err := l.Listen("regate_pq"); err != nil {
			return err
		}
		db, err := sql.Open("postgres", url)
		if err != nil {
			return err
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, "NOTIFY regate_pq, 'hello'"); err != nil {
			return err
		}
		select {
		case n := <-l.Notify:
			if n == nil {
				return errors.New("listener reconnected: no notification")
			}
			r.Rows = [][]any{{n.Channel, n.Extra}}
			return nil
		case <-time.After(20 * time.Second):
			return errors.New("no notification within 20 s")
		}
	}()
	outcome(&r, err)
	report(r)
}

// pinned opens one connection the steps that follow share (a held statement and what comes after it on the same
// session); a failure is reported as the step that failed.
func pinned(ctx context.Context, url string) (*sql.DB, *sql.Conn, bool) {
	db, err := sql.Open("postgres", url)
	if err != nil {
		report(stepResult{Step: "open", Error: err.Error()})
		return nil, nil, false
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		report(stepResult{Step: "connect", Error: err.Error()})
		return nil, nil, false
	}
	return db, conn, true
}

// approval runs a write the example policy holds, then a query on the same connection. The step's outcome is
// what the reviewer decided, which only the test knows: it expects rows, and a refusal shows as not ok.
func approval(ctx context.Context, url, id string) {
	db, conn, ok := pinned(ctx, url)
	if !ok {
		return
	}
	defer db.Close()
	defer conn.Close()
	exec(ctx, conn, "held", "rows", "UPDATE payments SET amount = amount + 1 WHERE id = $1", id)
	query(ctx, conn, "after_held", "rows", "SELECT 42 AS answer")
}

// approvalCancel runs the held write under a context it cancels when a line arrives on stdin (the test sends it
// once it sees the approval pending): lib/pq then sends a CancelRequest on a connection of its own.
func approvalCancel(ctx context.Context, url, id string) {
	db, conn, ok := pinned(ctx, url)
	if !ok {
		return
	}
	defer db.Close()
	defer conn.Close()
	held, cancel := context.WithCancel(ctx)
	go func() {
		buf := make([]byte, 1)
		_, _ = os.Stdin.Read(buf)
		cancel()
	}()
	exec(held, conn, "held_cancelled", "57014", "UPDATE payments SET amount = amount + 1 WHERE id = $1", id)
	// lib/pq marks a connection whose context was cancelled bad (database/sql drops it): go on with a new one.
	again, err := db.Conn(ctx)
	if err != nil {
		report(stepResult{Step: "reconnect", Error: err.Error()})
		return
	}
	defer again.Close()
	query(ctx, again, "after_cancel", "rows", "SELECT 42 AS answer")
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: pqclient URL read [COPY_ID...] (default 9101 9102 9201 9202) | pqclient URL approval ID")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	url := os.Args[1]
	switch os.Args[2] {
	case "read":
		// Ids of the orders pq.CopyIn adds: half on each connection.
		ids := []int{9101, 9102, 9201, 9202}
		if len(os.Args) > 3 {
			ids = nil
		}
		for _, a := range os.Args[3:] {
			var n int
			if _, err := fmt.Sscan(a, &n); err != nil {
				fmt.Fprintln(os.Stderr, "bad id:", a)
				os.Exit(2)
			}
			ids = append(ids, n)
		}
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		half := len(ids) / 2
		read(ctx, url, "", ids[:half])
		read(ctx, url+sep+"binary_parameters=yes", "_bin", ids[half:])
		listen(ctx, url)
	case "approval", "approval-cancel":
		if len(os.Args) != 4 {
			fmt.Fprintln(os.Stderr, "usage: pqclient URL approval|approval-cancel ID")
			os.Exit(2)
		}
		if os.Args[2] == "approval" {
			approval(ctx, url, os.Args[3])
		} else {
			approvalCancel(ctx, url, os.Args[3])
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown scenario:", os.Args[2])
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}
