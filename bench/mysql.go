package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	outmysql "github.com/outboundhq/outbound/mysql"
)

// mysql point select: one connection, one goroutine, a prepared primary-key
// SELECT per round trip, through the driver's own dialer (raw) and through
// outbound sockets (outbound). The figure is queries per second.
// Each side holds one pooled connection. The driver's liveness check (a
// non-blocking read before each reuse) is off on both sides, so that both do
// the same work per query: it cannot run on a default outbound socket today
// (see package mysql's documentation).
func init() {
	const rows = 1000
	var stmts [2]*sql.Stmt // [raw, outbound]
	register(Workload{
		Name:   "mysql point select",
		Unit:   "queries/s",
		Target: Target{AtLeast: 0.97},
		Needs:  "OUTBOUND_TEST_MYSQL",
		Setup: func(ctx context.Context) (func(), error) {
			cfg, err := gomysql.ParseDSN(os.Getenv("OUTBOUND_TEST_MYSQL"))
			if err != nil {
				return nil, err
			}
			cfg.CheckConnLiveness = false
			rawConnector, err := gomysql.NewConnector(cfg)
			if err != nil {
				return nil, err
			}
			raw := sql.OpenDB(rawConnector)
			out, err := outmysql.OpenDB(cfg, nil)
			if err != nil {
				raw.Close()
				return nil, err
			}
			var dbs []*sql.DB
			table := fmt.Sprintf("outbound_bench_point_%d", os.Getpid())
			cleanup := func() {
				for _, s := range stmts {
					if s != nil {
						s.Close()
					}
				}
				raw.ExecContext(context.Background(), "DROP TABLE IF EXISTS "+table)
				for _, db := range dbs {
					db.Close()
				}
			}
			for _, db := range []*sql.DB{raw, out} {
				db.SetMaxOpenConns(1)
				db.SetMaxIdleConns(1)
				dbs = append(dbs, db)
			}
			if _, err := raw.ExecContext(ctx, "CREATE TABLE "+table+" (id INT PRIMARY KEY, v VARCHAR(64) NOT NULL)"); err != nil {
				cleanup()
				return nil, err
			}
			var values []string
			var args []any
			for i := 1; i <= rows; i++ {
				values = append(values, "(?, ?)")
				args = append(args, i, fmt.Sprintf("row %d", i))
			}
			if _, err := raw.ExecContext(ctx, "INSERT INTO "+table+" (id, v) VALUES "+strings.Join(values, ", "), args...); err != nil {
				cleanup()
				return nil, err
			}
			for i, db := range dbs {
				if stmts[i], err = db.PrepareContext(ctx, "SELECT v FROM "+table+" WHERE id = ?"); err != nil {
					cleanup()
					return nil, err
				}
			}
			return cleanup, nil
		},
		Paired: func(ctx context.Context) (Pair, error) {
			// Batches of 20 queries, the sides interleaved for two
			// seconds; the figure comes from the batch at the 25th
			// percentile of duration (see ratePaired), so pauses caused by
			// other processes fall in the slow batches of both sides alike.
			const batch = 20
			var (
				v string
				n int
			)
			return ratePaired(ctx, 2*time.Second, batch, func(outbound bool) error {
				stmt := stmts[0]
				if outbound {
					stmt = stmts[1]
				}
				for range batch {
					if err := stmt.QueryRowContext(ctx, n%rows+1).Scan(&v); err != nil {
						return err
					}
					n++
				}
				return nil
			})
		},
	})
}
