package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/outboundhq/outbound/pg"
)

// pgxConns opens one pgx connection with pgx's own dialer (raw) and one
// through outbound sockets (outbound), both from OUTBOUND_TEST_POSTGRES with
// its sslmode (the default, prefer, gives TLS done by pgx on both sides).
func pgxConns(ctx context.Context) (raw, out *pgx.Conn, cleanup func(), err error) {
	url := os.Getenv("OUTBOUND_TEST_POSTGRES")
	if raw, err = pgx.Connect(ctx, url); err != nil {
		return nil, nil, nil, err
	}
	if out, err = pg.Connect(ctx, url, nil); err != nil {
		raw.Close(ctx)
		return nil, nil, nil, err
	}
	return raw, out, func() {
		raw.Close(context.Background())
		out.Close(context.Background())
	}, nil
}

func init() {
	var conns [2]*pgx.Conn // [raw, outbound]
	side := func(outbound bool) *pgx.Conn {
		if outbound {
			return conns[1]
		}
		return conns[0]
	}

	// pgx SELECT 1: one connection, one goroutine, sequential round trips.
	// The figure is queries per second.
	register(Workload{
		Name:   "pgx SELECT 1",
		Unit:   "queries/s",
		Target: Target{AtLeast: 0.97},
		Needs:  "OUTBOUND_TEST_POSTGRES",
		Setup: func(ctx context.Context) (func(), error) {
			raw, out, cleanup, err := pgxConns(ctx)
			conns = [2]*pgx.Conn{raw, out}
			return cleanup, err
		},
		Paired: func(ctx context.Context) (Pair, error) {
			// Batches of 20 queries, the sides interleaved batch by batch
			// for two seconds; the figure comes from the batch at the 25th
			// percentile of duration, so that pauses caused by other
			// processes on a shared machine (which land in the slow
			// batches) weigh on neither side.
			const batch = 20
			var one int
			return ratePaired(ctx, 2*time.Second, batch, func(outbound bool) error {
				c := side(outbound)
				for range batch {
					if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
						return err
					}
				}
				return nil
			})
		},
	})

	// pgx COPY 100k rows: COPY FROM of 100,000 two-column rows into a temp
	// table. The figure is rows per second, from the fastest copy of the
	// round (copies for about a second, three at least): the fastest is the
	// one least disturbed by other processes on a shared machine.
	var copyConns [2]*pgx.Conn
	const copyRows = 100_000
	rows := make([][]any, copyRows)
	for i := range rows {
		rows[i] = []any{int32(i), fmt.Sprintf("row %d", i)}
	}
	register(Workload{
		Name:   "pgx COPY 100k rows",
		Unit:   "rows/s",
		Target: Target{AtLeast: 0.97},
		Needs:  "OUTBOUND_TEST_POSTGRES",
		Setup: func(ctx context.Context) (func(), error) {
			raw, out, cleanup, err := pgxConns(ctx)
			if err != nil {
				return nil, err
			}
			copyConns = [2]*pgx.Conn{raw, out}
			for _, c := range copyConns {
				if _, err := c.Exec(ctx, "CREATE TEMP TABLE outbound_bench_copy (id int, name text)"); err != nil {
					cleanup()
					return nil, err
				}
			}
			return cleanup, nil
		},
		Run: func(ctx context.Context, outbound bool) (float64, error) {
			c := copyConns[0]
			if outbound {
				c = copyConns[1]
			}
			best := time.Duration(1<<63 - 1)
			start := time.Now()
			for i := 0; i < 3 || time.Since(start) < time.Second; i++ {
				if _, err := c.Exec(ctx, "TRUNCATE outbound_bench_copy"); err != nil {
					return 0, err
				}
				t0 := time.Now()
				n, err := c.CopyFrom(ctx, pgx.Identifier{"outbound_bench_copy"}, []string{"id", "name"}, pgx.CopyFromRows(rows))
				if err != nil {
					return 0, err
				}
				if n != copyRows {
					return 0, fmt.Errorf("COPY wrote %d rows, want %d", n, copyRows)
				}
				best = min(best, time.Since(t0))
			}
			return copyRows / best.Seconds(), nil
		},
	})
}
