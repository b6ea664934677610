// Command faults runs a pgxpool workload through the one dialer while a
// fault injector slows the database down and then resets its connections,
// and prints what the pool did: queries, median round trip, errors and the
// connections it opened to recover.
//
//	go run ./examples/faults
//	go run ./examples/faults -url postgres://app:secret@db.example.com:5432/app
//
// The injector is a sockets.Layer in the dialer's options; every adapter
// (pg here, and mysql, smtp, mqtt, go-redis, net/http) takes that dialer, so
// the same rules reach every driver, in process, with no proxy and no
// change of connection string:
//
//	in := faults.New(nil)
//	d := &dialers.Dialer{Options: &sockets.Options{Layers: []sockets.Layer{in}}}
//	pg.ConfigurePool(cfg, &pg.Options{Dialer: d})
//	in.Add(faults.Rule{Name: "slow", Match: faults.Match{Port: 5432},
//		Toxic: faults.Latency{Latency: 50 * time.Millisecond}})
//
// It needs a PostgreSQL server (the URL defaults to OUTBOUND_TEST_POSTGRES,
// then to the one compose.yaml starts); with none answering it says how to
// start one and exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/faults"
	"github.com/outboundhq/outbound/pg"
	"github.com/outboundhq/outbound/sockets"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout)
	var skip errNoServer
	if errors.As(err, &skip) {
		fmt.Fprintln(os.Stderr, "faults: skipped:", err)
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
}

// errNoServer says there is no PostgreSQL to run against, and how to start one.
type errNoServer struct{ err error }

func (e errNoServer) Error() string {
	return fmt.Sprintf("no PostgreSQL answered (%v); start one with: docker compose up -d postgres (or pass -url)", e.err)
}

func (e errNoServer) Unwrap() error { return e.err }

const workers = 4

func run(ctx context.Context, args []string, stdout io.Writer) error {
	def := os.Getenv("OUTBOUND_TEST_POSTGRES")
	if def == "" {
		def = "postgres://postgres@127.0.0.1:5432/test"
	}
	fs := flag.NewFlagSet("faults", flag.ContinueOnError)
	url := fs.String("url", def, "PostgreSQL connection `URL`")
	phase := fs.Duration("phase", 600*time.Millisecond, "how long each phase of the workload runs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := pgxpool.ParseConfig(*url)
	if err != nil {
		return err
	}
	cfg.MaxConns = workers
	port := int(cfg.ConnConfig.Port)

	// One injector in the one dialer; no rules yet. AlwaysWrap lets rules
	// added later reach the pool's open connections too.
	in := faults.New(&faults.Options{AlwaysWrap: true})
	d := &dialers.Dialer{Options: &sockets.Options{Layers: []sockets.Layer{in}}}
	if err := pg.ConfigurePool(cfg, &pg.Options{Dialer: d}); err != nil {
		return err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = pool.Ping(pctx)
	cancel()
	if err != nil {
		return errNoServer{err}
	}
	fmt.Fprintf(stdout, "pool of %d connections to %s:%d through one dialer with a fault injector\n", workers, cfg.ConnConfig.Host, port)

	report := func(name string, r result) {
		fmt.Fprintf(stdout, "%-13s %4d queries, median %s, %d errors\n", name+":", r.queries, ms(r.median()), r.errors)
	}

	r := workload(ctx, pool, *phase, nil)
	report("baseline", r)

	if err := in.Add(faults.Rule{Name: "slow-db", Match: faults.Match{Port: port},
		Toxic: faults.Latency{Latency: 50 * time.Millisecond}}); err != nil {
		return err
	}
	r = workload(ctx, pool, *phase, nil)
	in.Remove("slow-db")
	report("latency 50ms", r)

	before := pool.Stat().NewConnsCount()
	r = workload(ctx, pool, *phase, func() {
		// Reset every open connection to the database, as a failover or a
		// middlebox would, then let new connections through.
		in.Add(faults.Rule{Name: "rst", Match: faults.Match{Port: port}, Toxic: faults.ResetPeer{}})
		in.Remove("rst")
	})
	report("reset", r)
	if r.first != nil {
		fmt.Fprintf(stdout, "  first error: %v\n", r.first)
	}
	fmt.Fprintf(stdout, "  the pool opened %d new connections to recover\n", pool.Stat().NewConnsCount()-before)

	r = workload(ctx, pool, *phase, nil)
	report("after", r)
	if r.errors > 0 {
		return fmt.Errorf("%d queries failed after the faults were removed", r.errors)
	}
	return nil
}

type result struct {
	queries, errors int
	first           error
	rtts            []time.Duration
}

func (r result) median() time.Duration {
	if len(r.rtts) == 0 {
		return 0
	}
	s := slices.Clone(r.rtts)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
}

// workload runs workers goroutines querying the pool for d; fault, when
// set, runs a third of the way through.
func workload(ctx context.Context, pool *pgxpool.Pool, d time.Duration, fault func()) result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var r result
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				start := time.Now()
				var n int
				err := pool.QueryRow(context.Background(), "select $1::int", 1).Scan(&n)
				el := time.Since(start)
				mu.Lock()
				if err != nil {
					r.errors++
					if r.first == nil {
						r.first = err
					}
				} else {
					r.queries++
					r.rtts = append(r.rtts, el)
				}
				mu.Unlock()
			}
		})
	}
	if fault != nil {
		time.Sleep(d / 3)
		fault()
	}
	wg.Wait()
	return r
}
