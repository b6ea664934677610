// Command bench measures outbound against the raw stack, side by side in one
// process: each workload runs its raw form and its outbound form alternately
// for several rounds, and the table reports the median of each, their ratio
// (outbound / raw) and the target.
//
//	go run ./bench               # every workload
//	go run ./bench -run 'pgx|tls' # workloads whose name matches
//	go run ./bench -json         # the same as JSON
//	go run ./bench -quick        # fewer rounds and smaller transfers, for a smoke run
//	go run ./bench -list         # the workloads and their targets
//
// Workloads that need a server (PostgreSQL, MariaDB, an MTA, an MQTT broker)
// read its address from the environment variable named in the table and are
// skipped, with a note, when it is unset or the server is unreachable.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"runtime/pprof"
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
	// ctx is cancelled if the round overruns roundTimeout.
	Run func(ctx context.Context, outbound bool) (float64, error)
	// Rounds, when set, replaces the default number of rounds for this
	// workload: more for short, noisy rounds, fewer for long rounds whose
	// figure barely varies. An explicit -rounds flag, and -quick, win.
	Rounds int
	// Paired, when set, replaces Run: one round measures both sides,
	// interleaved in short batches (raw, outbound, outbound, raw, ...), so
	// that what the machine does meanwhile (another process, the kernel's
	// state) weighs on both alike. It returns each side's figure in Unit.
	Paired func(ctx context.Context) (Pair, error)
	// Series and X, when set, put the row in the growth table too: one
	// line per Series, one column per X (the size, rules or concurrency).
	Series, X string
}

// Target is the bound the ratio outbound/raw must meet.
type Target struct {
	AtLeast float64 // ratio ≥ AtLeast (throughput); 0 when unused
	AtMost  float64 // ratio ≤ AtMost (latency, memory); 0 when unused
	// Absolute, when set, bounds the outbound figure itself instead of the ratio.
	Absolute bool
	// Delta, when set, bounds the difference outbound − raw by AtMost
	// (which may then be 0): "at most raw + 512 bytes", "no extra goroutine".
	Delta bool
}

func (t Target) String() string {
	if t.Delta {
		return fmt.Sprintf("Δ ≤ %+g", t.AtMost)
	}
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

func (t Target) met(raw, value float64) bool {
	if t.Delta {
		return value-raw <= t.AtMost
	}
	v := 0.0
	switch {
	case t.Absolute:
		v = value
	case raw != 0:
		v = value / raw
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

// Pair is one round of a Paired workload: each side's figure and, when
// measured, each side's CPU time (user and system, the whole process) in
// the same unit.
type Pair struct {
	Raw, Outbound       float64
	RawCPU, OutboundCPU float64
}

// Result is one row of the table.
type Result struct {
	Name     string    `json:"name"`
	Unit     string    `json:"unit"`
	Raw      float64   `json:"raw"`
	Outbound float64   `json:"outbound"`
	Ratio    float64   `json:"ratio"`
	Delta    float64   `json:"delta"` // outbound − raw
	Target   string    `json:"target"`
	Met      bool      `json:"met"`
	Skipped  string    `json:"skipped,omitempty"`
	Error    string    `json:"error,omitempty"`
	RawAll   []float64 `json:"raw_rounds,omitempty"`
	OutAll   []float64 `json:"outbound_rounds,omitempty"`
	// CPURatio is outbound/raw in CPU time, for the rows that measure it.
	CPURatio float64   `json:"cpu_ratio,omitempty"`
	RawCPU   []float64 `json:"raw_cpu_rounds,omitempty"`
	OutCPU   []float64 `json:"outbound_cpu_rounds,omitempty"`
	// Ratios are the rounds' own outbound/raw ratios, for the rows whose
	// sides run interleaved within a round: Ratio is then their median.
	Ratios []float64 `json:"round_ratios,omitempty"`
	Series string    `json:"series,omitempty"`
	X      string    `json:"x,omitempty"`
}

// quick is set by -quick: workloads shrink their transfers and counts.
var quick bool

// roundTimeout bounds one Run; a workload that hangs fails its row.
const roundTimeout = 2 * time.Minute

func main() {
	run := flag.String("run", "", "regexp selecting workloads by name (default: all)")
	asJSON := flag.Bool("json", false, "print JSON instead of a table")
	rounds := flag.Int("rounds", 5, "rounds per side (alternating raw and outbound); when not given, some workloads use their own count")
	list := flag.Bool("list", false, "list workloads and exit")
	flag.BoolVar(&quick, "quick", false, "3 rounds and smaller transfers: a smoke run, not a measurement")
	plot := flag.String("plot", "", "also write the growth series as SVG plots into `dir`")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to `file`")
	flag.Parse()
	roundsSet := false
	flag.Visit(func(f *flag.Flag) { roundsSet = roundsSet || f.Name == "rounds" })
	if quick && !roundsSet {
		*rounds = 3
	}

	sort.SliceStable(workloads, func(i, j int) bool { return order(workloads[i].Name) < order(workloads[j].Name) })
	if *list {
		for _, w := range workloads {
			needs := ""
			if w.Needs != "" {
				needs = "needs " + w.Needs
			}
			fmt.Printf("%-48s %-16s %s\n", w.Name, w.Target, needs)
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
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(2)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(2)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	ctx := context.Background()
	start := time.Now()
	var results []Result
	failed := false
	for _, w := range workloads {
		if re != nil && !re.MatchString(w.Name) {
			continue
		}
		n := *rounds
		if w.Rounds > 0 && !roundsSet {
			n = w.Rounds
			if quick {
				n = min(n, *rounds)
			}
		}
		fmt.Fprintf(os.Stderr, "running %s ...\n", w.Name)
		t0 := time.Now()
		r := measure(ctx, w, n)
		fmt.Fprintf(os.Stderr, "  %s\n", time.Since(t0).Round(time.Millisecond))
		if r.Error != "" {
			failed = true
		}
		results = append(results, r)
	}
	elapsed := time.Since(start).Round(time.Second)
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(results)
	} else {
		fmt.Printf("%s %s/%s, GOMAXPROCS=%d, median of the rounds of each side\n\n",
			runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0))
		printTable(results)
		printGrowth(results)
		if *plot != "" {
			if err := writePlots(*plot, results); err != nil {
				fmt.Fprintf(os.Stderr, "bench: -plot: %v\n", err)
				failed = true
			}
		}
	}
	fmt.Fprintf(os.Stderr, "total %s\n", elapsed)
	if failed {
		if *cpuprofile != "" {
			pprof.StopCPUProfile()
		}
		os.Exit(1)
	}
}

func measure(ctx context.Context, w Workload, rounds int) Result {
	r := Result{Name: w.Name, Unit: w.Unit, Target: w.Target.String(), Series: w.Series, X: w.X}
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
	if w.Paired != nil {
		return measurePaired(ctx, w, rounds, r)
	}
	// One warm-up round per side, not counted.
	if _, err := runOnce(ctx, w, false); err != nil {
		r.Error = "raw: " + err.Error()
		return r
	}
	if _, err := runOnce(ctx, w, true); err != nil {
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
			v, err := runOnce(ctx, w, ob)
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
	return finish(w, r)
}

// measurePaired is measure for a workload whose rounds measure both sides
// at once.
func measurePaired(ctx context.Context, w Workload, rounds int, r Result) Result {
	pair := func() (Pair, error) {
		ctx, cancel := context.WithTimeout(ctx, roundTimeout)
		defer cancel()
		return w.Paired(ctx)
	}
	if _, err := pair(); err != nil { // warm-up, not counted
		r.Error = err.Error()
		return r
	}
	for i := 0; i < rounds; i++ {
		p, err := pair()
		if err != nil {
			r.Error = fmt.Sprintf("round %d: %v", i, err)
			return r
		}
		r.RawAll = append(r.RawAll, p.Raw)
		r.OutAll = append(r.OutAll, p.Outbound)
		if p.Raw != 0 {
			r.Ratios = append(r.Ratios, p.Outbound/p.Raw)
		}
		if p.RawCPU > 0 {
			r.RawCPU = append(r.RawCPU, p.RawCPU)
			r.OutCPU = append(r.OutCPU, p.OutboundCPU)
		}
	}
	if c := median(r.RawCPU); c > 0 {
		r.CPURatio = median(r.OutCPU) / c
	}
	return finish(w, r)
}

// finish sets a result's figures from its rounds. Each side's figure is
// the median of its rounds. The ratio is the median of the rounds' own
// ratios where the sides ran interleaved within each round (a paired
// measurement: a slow spell of the machine slows both sides of the round
// it falls in, so it cancels in that round's ratio but not in the ratio of
// two medians taken from different rounds); otherwise it is the ratio of
// the medians.
func finish(w Workload, r Result) Result {
	r.Raw, r.Outbound = median(r.RawAll), median(r.OutAll)
	r.Delta = r.Outbound - r.Raw
	switch {
	case len(r.Ratios) > 0 && !w.Target.Delta && !w.Target.Absolute:
		r.Ratio = median(r.Ratios)
		r.Met = w.Target.met(1, r.Ratio)
		return r
	case r.Raw != 0:
		r.Ratio = r.Outbound / r.Raw
	}
	r.Met = w.Target.met(r.Raw, r.Outbound)
	return r
}

func runOnce(ctx context.Context, w Workload, outbound bool) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, roundTimeout)
	defer cancel()
	return w.Run(ctx, outbound)
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
	fmt.Fprintln(tw, "workload\traw\toutbound\tratio (Δ)\ttarget\tmet\tcpu ratio")
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
			ratio := fmt.Sprintf("%.3f", r.Ratio)
			if strings.HasPrefix(r.Target, "Δ") {
				ratio = "Δ " + signed(r.Delta)
			}
			cpu := ""
			if r.CPURatio > 0 {
				cpu = fmt.Sprintf("%.3f", r.CPURatio)
			}
			fmt.Fprintf(tw, "%s\t%s %s\t%s %s\t%s\t%s\t%s\t%s\n", r.Name, num(r.Raw), r.Unit, num(r.Outbound), r.Unit, ratio, r.Target, met, cpu)
		}
	}
	tw.Flush()
}

// printGrowth prints the rows that belong to a series as one small table
// per series: raw, outbound and the ratio (or difference) at each X.
func printGrowth(results []Result) {
	var series []string
	by := map[string][]Result{}
	for _, r := range results {
		if r.Series == "" || r.Skipped != "" || r.Error != "" {
			continue
		}
		if by[r.Series] == nil {
			series = append(series, r.Series)
		}
		by[r.Series] = append(by[r.Series], r)
	}
	if len(series) == 0 {
		return
	}
	fmt.Println("\nhow cost grows")
	for _, name := range series {
		rows := by[name]
		tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "\n%s\t", name)
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t", r.X)
		}
		fmt.Fprintln(tw)
		line := func(label string, f func(Result) string) {
			fmt.Fprintf(tw, "%s\t", label)
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t", f(r))
			}
			fmt.Fprintln(tw)
		}
		line("raw", func(r Result) string { return num(r.Raw) })
		line("outbound", func(r Result) string { return num(r.Outbound) })
		line("ratio (Δ)", func(r Result) string {
			if strings.HasPrefix(r.Target, "Δ") {
				return "Δ " + signed(r.Delta)
			}
			if r.Raw == 0 {
				return "-"
			}
			return fmt.Sprintf("%.3f", r.Ratio)
		})
		line("met", func(r Result) string {
			if r.Met {
				return "yes"
			}
			return "NO"
		})
		tw.Flush()
	}
}

func signed(v float64) string {
	if v >= 0 {
		return "+" + num(v)
	}
	return "-" + num(-v)
}

func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.4f", v)
}

// order keeps the table in a stable, readable order: core first, then
// drivers; within a group, the order in which the workloads were registered.
func order(name string) int {
	for i, p := range []string{"bulk", "tls", "relay", "ping", "connect", "dial", "starttls", "idle", "policy", "pgx", "mysql", "smtp", "imap", "paho"} {
		if strings.HasPrefix(strings.ToLower(name), p) {
			return i
		}
	}
	return 99
}
