// Command bench measures outbound against the raw stack, side by side in one
// process: each workload runs its raw form and its outbound form alternately
// for several rounds, and the table reports the median of each, their ratio
// (outbound / raw) and the target.
//
//	go run ./bench               # every workload
//	go run ./bench -run 'pgx|tls' # workloads whose name matches
//	go run ./bench -json         # the same as JSON
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Workload is one side-by-side measurement.
type Workload struct {
	Name   string // shown in the table, matched by -run
	Unit   string // of the figures: "MB/s", "msg/s", "µs", "B", ...
	Target Target
	// Needs names the environment variable of a server the workload needs
	// ("" for none); when unset, or the server is unreachable, the workload is
	// reported as skipped with a note.
	Needs string
	// Setup runs once before the rounds; its cleanup runs after them.
	Setup func(ctx context.Context) (cleanup func(), err error)
	// Run measures one round of one side and returns its figure in Unit.
	Run func(ctx context.Context, outbound bool) (float64, error)
}

// Target is the bound the ratio outbound/raw must meet.
type Target struct {
	AtLeast float64 // ratio ≥ AtLeast (throughput); 0 when unused
	AtMost  float64 // ratio ≤ AtMost (latency, memory); 0 when unused
	// Absolute, when set, bounds the outbound figure itself instead of the ratio.
	Absolute bool
}

func (t Target) String() string {
	prefix := "ratio"
	if t.Absolute {
		prefix = "value"
	}
	switch {
	case t.AtLeast != 0:
		return fmt.Sprintf("%s ≥ %g", prefix, t.AtLeast)
	case t.AtMost != 0:
		return fmt.Sprintf("%s ≤ %g", prefix, t.AtMost)
	}
	return "-"
}

func (t Target) met(ratio, value float64) bool {
	v := ratio
	if t.Absolute {
		v = value
	}
	switch {
	case t.AtLeast != 0:
		return v >= t.AtLeast
	case t.AtMost != 0:
		return v <= t.AtMost
	}
	return true
}

var workloads []Workload

// register adds a workload; each workload file calls it from init.
func register(w Workload) { workloads = append(workloads, w) }

// Result is one row of the table.
type Result struct {
	Name     string    `json:"name"`
	Unit     string    `json:"unit"`
	Raw      float64   `json:"raw"`
	Outbound float64   `json:"outbound"`
	Ratio    float64   `json:"ratio"`
	Target   string    `json:"target"`
	Met      bool      `json:"met"`
	Skipped  string    `json:"skipped,omitempty"`
	Error    string    `json:"error,omitempty"`
	RawAll   []float64 `json:"raw_rounds,omitempty"`
	OutAll   []float64 `json:"outbound_rounds,omitempty"`
}

func main() {
	run := flag.String("run", "", "regexp selecting workloads by name (default: all)")
	asJSON := flag.Bool("json", false, "print JSON instead of a table")
	rounds := flag.Int("rounds", 5, "rounds per side (alternating raw and outbound)")
	list := flag.Bool("list", false, "list workloads and exit")
	flag.Parse()

	sort.SliceStable(workloads, func(i, j int) bool { return order(workloads[i].Name) < order(workloads[j].Name) })
	if *list {
		for _, w := range workloads {
			fmt.Printf("%-48s %s\n", w.Name, w.Target)
		}
		return
	}
	var re *regexp.Regexp
	if *run != "" {
		var err error
		if re, err = regexp.Compile(*run); err != nil {
			fmt.Fprintf(os.Stderr, "bench: -run %q: %v\n", *run, err)
			os.Exit(2)
		}
	}
	ctx := context.Background()
	var results []Result
	failed := false
	for _, w := range workloads {
		if re != nil && !re.MatchString(w.Name) {
			continue
		}
		if !*asJSON {
			fmt.Fprintf(os.Stderr, "running %s ...\n", w.Name)
		}
		r := measure(ctx, w, *rounds)
		if r.Error != "" {
			failed = true
		}
		results = append(results, r)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(results)
	} else {
		printTable(results)
	}
	if failed {
		os.Exit(1)
	}
}

func measure(ctx context.Context, w Workload, rounds int) Result {
	r := Result{Name: w.Name, Unit: w.Unit, Target: w.Target.String()}
	if w.Needs != "" && os.Getenv(w.Needs) == "" {
		r.Skipped = w.Needs + " is not set"
		return r
	}
	if w.Setup != nil {
		cleanup, err := w.Setup(ctx)
		if err != nil {
			r.Skipped = "setup: " + err.Error()
			return r
		}
		if cleanup != nil {
			defer cleanup()
		}
	}
	// One warm-up round per side, not counted.
	if _, err := w.Run(ctx, false); err != nil {
		r.Error = "raw: " + err.Error()
		return r
	}
	if _, err := w.Run(ctx, true); err != nil {
		r.Error = "outbound: " + err.Error()
		return r
	}
	for i := 0; i < rounds; i++ {
		// Alternate which side goes first so drift favours neither.
		sides := []bool{false, true}
		if i%2 == 1 {
			sides = []bool{true, false}
		}
		for _, ob := range sides {
			v, err := w.Run(ctx, ob)
			if err != nil {
				r.Error = fmt.Sprintf("round %d: %v", i, err)
				return r
			}
			if ob {
				r.OutAll = append(r.OutAll, v)
			} else {
				r.RawAll = append(r.RawAll, v)
			}
		}
	}
	r.Raw, r.Outbound = median(r.RawAll), median(r.OutAll)
	if r.Raw != 0 {
		r.Ratio = r.Outbound / r.Raw
	}
	r.Met = w.Target.met(r.Ratio, r.Outbound)
	return r
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func printTable(results []Result) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "workload\traw\toutbound\tratio\ttarget\tmet")
	for _, r := range results {
		switch {
		case r.Skipped != "":
			fmt.Fprintf(tw, "%s\t-\t-\t-\t%s\tskipped: %s\n", r.Name, r.Target, r.Skipped)
		case r.Error != "":
			fmt.Fprintf(tw, "%s\t-\t-\t-\t%s\tERROR: %s\n", r.Name, r.Target, r.Error)
		default:
			met := "yes"
			if !r.Met {
				met = "NO"
			}
			fmt.Fprintf(tw, "%s\t%s %s\t%s %s\t%.3f\t%s\t%s\n", r.Name, num(r.Raw), r.Unit, num(r.Outbound), r.Unit, r.Ratio, r.Target, met)
		}
	}
	tw.Flush()
}

func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.4f", v)
}

// order keeps the table in a stable, readable order: core first, then drivers.
func order(name string) string {
	for i, p := range []string{"bulk", "tls", "relay", "ping", "connect", "starttls", "idle", "policy", "pgx", "mysql", "smtp", "paho"} {
		if strings.HasPrefix(strings.ToLower(name), p) {
			return fmt.Sprintf("%02d %s", i, name)
		}
	}
	return "99 " + name
}

var _ = time.Second
