// The regate client scenario through pgx v5 (its own protocol code; binary parameters and results).
//
//	go build -o pgxclient . && ./pgxclient postgres://agent:token@127.0.0.1:PORT/regate_test?sslmode=disable
//
// Inputs as for every client script (see ../README.md): the URL as argv[1] or REGATE_URL, EXPECT_NAMES, DENY_SQL.
// One JSON line per step on stdout; exit status 1 when any step failed.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const (
	select3    = "SELECT id, full_name FROM public.customers ORDER BY id LIMIT 3"
	selectByID = "SELECT id, full_name FROM public.customers WHERE id = $1"
	denied     = "42501"
	inFailedTx = "25P02"
)

type row struct {
	ID       int32
	FullName string
}

type stepResult struct {
	Client           string   `json:"client"`
	Step             string   `json:"step"`
	OK               bool     `json:"ok"`
	Rows             [][2]any `json:"rows,omitempty"`
	ExpectedIDs      []int32  `json:"expected_ids,omitempty"`
	ExpectedSQLState string   `json:"expected_sqlstate,omitempty"`
	SQLState         string   `json:"sqlstate,omitempty"`
	Error            string   `json:"error,omitempty"`
	Detail           string   `json:"detail,omitempty"`
}

type scenario struct {
	ctx         context.Context
	denySQL     string
	expectNames []string
	failed      int
}

func (s *scenario) report(r stepResult) bool {
	r.Client = "pgx"
	if !r.OK {
		s.failed++
	}
	line, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(line))
	return r.OK
}

func sqlstateOf(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// selectRows runs a query returning (id, full_name) and checks it returns exactly ids.
func (s *scenario) selectRows(step string, q func() (pgx.Rows, error), ids ...int32) bool {
	rows, err := q()
	var got []row
	if err == nil {
		got, err = pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	}
	if err != nil {
		return s.report(stepResult{Step: step, OK: false, ExpectedIDs: ids, SQLState: sqlstateOf(err), Error: err.Error()})
	}
	gotIDs := make([]int32, 0, len(got))
	out := make([][2]any, 0, len(got))
	ok := true
	for _, r := range got {
		gotIDs = append(gotIDs, r.ID)
		out = append(out, [2]any{r.ID, r.FullName})
		if s.expectNames != nil && r.ID >= 1 && int(r.ID) <= len(s.expectNames) && s.expectNames[r.ID-1] != r.FullName {
			ok = false
		}
	}
	ok = ok && slices.Equal(gotIDs, ids)
	return s.report(stepResult{Step: step, OK: ok, Rows: out, ExpectedIDs: ids})
}

// expectSQLState runs an action that must fail with the given SQLSTATE.
func (s *scenario) expectSQLState(step, sqlstate string, action func() error) bool {
	err := action()
	if err == nil {
		return s.report(stepResult{Step: step, OK: false, ExpectedSQLState: sqlstate, Error: "no error"})
	}
	got := sqlstateOf(err)
	return s.report(stepResult{Step: step, OK: got == sqlstate, ExpectedSQLState: sqlstate, SQLState: got, Error: err.Error()})
}

func (s *scenario) run(step string, action func() error) bool {
	if err := action(); err != nil {
		return s.report(stepResult{Step: step, OK: false, SQLState: sqlstateOf(err), Error: err.Error()})
	}
	return s.report(stepResult{Step: step, OK: true})
}

// drain reads a result set to the end and returns its error (Query defers server errors to Rows.Err).
func drain(rows pgx.Rows, err error) error {
	if err != nil {
		return err
	}
	rows.Close()
	return rows.Err()
}

func main() {
	url := os.Getenv("REGATE_URL")
	if len(os.Args) > 1 {
		url = os.Args[1]
	}
	if url == "" {
		fmt.Fprintln(os.Stderr, "usage: pgxclient URL (or set REGATE_URL)")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := &scenario{ctx: ctx, denySQL: os.Getenv("DENY_SQL")}
	if s.denySQL == "" {
		s.denySQL = "DELETE FROM public.orders"
	}
	if names := os.Getenv("EXPECT_NAMES"); names != "" {
		if err := json.Unmarshal([]byte(names), &s.expectNames); err != nil {
			fmt.Fprintf(os.Stderr, "EXPECT_NAMES is not a JSON list of strings: %v\n", err)
			os.Exit(2)
		}
	}
	os.Exit(s.scenario(url))
}

func (s *scenario) scenario(url string) int {
	ctx := s.ctx
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		s.report(stepResult{Step: "connect", OK: false, SQLState: sqlstateOf(err), Error: err.Error()})
		return 1
	}
	defer conn.Close(context.Background())
	s.report(stepResult{Step: "connect", OK: true, Detail: "server_version=" + conn.PgConn().ParameterStatus("server_version")})

	// a) allowed queries (default mode: cached named statements, binary parameters)
	s.selectRows("select_rows", func() (pgx.Rows, error) { return conn.Query(ctx, select3) }, 1, 2, 3)
	s.selectRows("select_param", func() (pgx.Rows, error) { return conn.Query(ctx, selectByID, 2) }, 2)

	// b) denied: Exec without arguments goes as a simple Query, Query through Parse/Bind/Execute
	s.expectSQLState("deny", denied, func() error { _, err := conn.Exec(ctx, s.denySQL); return err })
	s.selectRows("after_deny", func() (pgx.Rows, error) { return conn.Query(ctx, selectByID, 1) }, 1)
	s.expectSQLState("deny_extended", denied, func() error { return drain(conn.Query(ctx, s.denySQL)) })
	s.selectRows("after_deny_extended", func() (pgx.Rows, error) { return conn.Query(ctx, select3) }, 1, 2, 3)

	// Every exec mode pgx has, each with an allowed query, a denial and an allowed query again.
	modes := []struct {
		name string
		mode pgx.QueryExecMode
	}{
		{"cache_statement", pgx.QueryExecModeCacheStatement},
		{"cache_describe", pgx.QueryExecModeCacheDescribe},
		{"describe_exec", pgx.QueryExecModeDescribeExec},
		{"exec", pgx.QueryExecModeExec},
		{"simple_protocol", pgx.QueryExecModeSimpleProtocol},
	}
	for _, m := range modes {
		s.selectRows("mode_"+m.name, func() (pgx.Rows, error) { return conn.Query(ctx, selectByID, m.mode, 3) }, 3)
		s.expectSQLState("mode_"+m.name+"_deny", denied, func() error { return drain(conn.Query(ctx, s.denySQL, m.mode)) })
		s.selectRows("mode_"+m.name+"_after_deny", func() (pgx.Rows, error) { return conn.Query(ctx, selectByID, m.mode, 2) }, 2)
	}

	// c) a denial inside a transaction aborts it until ROLLBACK
	tx, err := conn.Begin(ctx)
	if s.run("tx_begin", func() error { return err }) {
		s.selectRows("tx_select", func() (pgx.Rows, error) { return tx.Query(ctx, select3) }, 1, 2, 3)
		s.expectSQLState("tx_deny", denied, func() error { _, err := tx.Exec(ctx, s.denySQL); return err })
		s.expectSQLState("tx_aborted", inFailedTx, func() error { return drain(tx.Query(ctx, select3)) })
		s.report(stepResult{Step: "tx_state_inerror", OK: conn.PgConn().TxStatus() == 'E', Detail: string(conn.PgConn().TxStatus())})
		s.run("tx_rollback", func() error { return tx.Rollback(ctx) })
	}
	s.selectRows("after_rollback", func() (pgx.Rows, error) { return conn.Query(ctx, select3) }, 1, 2, 3)

	// d) binary parameters and results through one explicitly named statement, run again and again
	s.run("prepare", func() error { _, err := conn.Prepare(ctx, "by_id", selectByID); return err })
	for i := range 6 {
		s.selectRows(fmt.Sprintf("binary_param_%d", i), func() (pgx.Rows, error) {
			return conn.Query(ctx, "by_id", pgx.QueryResultFormats{pgx.BinaryFormatCode, pgx.BinaryFormatCode}, 3)
		}, 3)
	}
	s.expectSQLState("prepared_deny", denied, func() error {
		if _, err := conn.Prepare(ctx, "denied", s.denySQL); err != nil {
			return err // regate may already refuse the Parse
		}
		_, err := conn.Exec(ctx, "denied")
		return err
	})
	s.selectRows("prepared_after_deny", func() (pgx.Rows, error) { return conn.Query(ctx, "by_id", 2) }, 2)

	// A batch: several Bind/Execute before one Sync.
	s.run("batch", func() error {
		batch := &pgx.Batch{}
		for _, id := range []int{1, 2, 3} {
			batch.Queue(selectByID, id)
		}
		return conn.SendBatch(ctx, batch).Close()
	})
	s.selectRows("after_batch", func() (pgx.Rows, error) { return conn.Query(ctx, selectByID, 1) }, 1)

	if s.failed > 0 {
		return 1
	}
	return 0
}
