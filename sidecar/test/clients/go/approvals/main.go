// pgx scenarios for the approval red-team tests (sidecar/test/approval/drivers-redteam.test.ts): one line of
// output per step, so the test can read what the driver reported.
//
//	go build -o pgxapprovals ./approvals && ./pgxapprovals URL query-no-args|batch ID
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func describe(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Severity + " " + pgErr.Code + " " + pgErr.Message
	}
	if err != nil {
		return "error " + err.Error()
	}
	return "ok"
}

func main() {
	url, scenario := os.Args[1], os.Args[2]
	id, _ := strconv.Atoi(os.Args[3])
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		panic(err)
	}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { fmt.Println("notice", n.Message) }
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		panic(err)
	}
	switch scenario {
	case "query-no-args":
		// No arguments: pgx prepares (Parse, Describe, Sync), then binds and executes the statement apart.
		var got int
		err := c.QueryRow(ctx, fmt.Sprintf("UPDATE payments SET amount = amount + 1 WHERE id = %d RETURNING id", id)).Scan(&got)
		fmt.Println("query", got, describe(err))
	case "batch":
		// One batch: a write that needs no approval, one that does, another that needs none.
		b := &pgx.Batch{}
		b.Queue("UPDATE orders SET amount = amount + 1 WHERE id = $1", id)
		b.Queue("UPDATE payments SET amount = amount + 1 WHERE id = $1", id)
		b.Queue("UPDATE orders SET amount = amount + 100 WHERE id = $1", id)
		br := c.SendBatch(ctx, b)
		for i := 0; i < 3; i++ {
			_, err := br.Exec()
			fmt.Println("exec", i, describe(err))
		}
		fmt.Println("close", describe(br.Close()))
	}
	var v int
	err = c.QueryRow(ctx, "SELECT 42").Scan(&v)
	fmt.Println("after", v, describe(err))
}
