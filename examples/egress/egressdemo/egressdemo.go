// Package egressdemo is the egress example, run by `go run ./examples/egress` and by
// the tour. It shows outbound's egress policy at work, in four steps:
//
//  1. Port 25 is refused with no policy at all, as on Cloudflare Workers,
//     and the error says which rule would allow it.
//  2. A policy is loaded from a file (egress.yaml, next to this program);
//     a broken edit of the file is refused with its line, and the policy
//     in force stays.
//  3. A "link preview" web service fetches URLs its users supply, each
//     request in its own scope: the internal backend it is meant to reach
//     works, while SSRF attempts (the cloud metadata service, Redis on
//     loopback, an IPv4-mapped spelling of the metadata address) are
//     refused before a single packet leaves.
//  4. A handler that opens sockets and forgets to close them has them
//     closed when it returns, and code outside a request cannot connect at
//     all (require_scope).
//
// Every decision is logged with log/slog, and the counters are printed at
// the end.
//
//	go run ./examples/egress
//	go run ./examples/egress -policy my-egress.yaml
package egressdemo

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/egress/policyfile"
	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/scopehttp"
)

//go:embed egress.yaml
var defaultPolicy []byte

// internalDNS is the example's stand-in for a private DNS zone: it knows
// backend.internal and asks the system resolver for everything else.
type internalDNS map[string]netip.Addr

func (z internalDNS) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if a, ok := z[host]; ok {
		return []netip.Addr{a}, nil
	}
	return net.DefaultResolver.LookupNetIP(ctx, network, host)
}

// Run runs the example with the command-line arguments args, reporting on out.
func Run(ctx context.Context, args []string, out io.Writer) error {
	fs := example.NewFlagSet("egress")
	policyPath := fs.String("policy", "", "policy `file` (YAML or JSON; default: the example's egress.yaml)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	defer fs.Close()

	// 1. Port 25, with no policy at all.
	_, err := sockets.Connect(ctx, "mx.example.com:25", fs.Options())
	fmt.Fprintf(out, "1. port 25 with the default policy:\n   %v\n\n", err)
	if !errors.Is(err, sockets.ErrDenied) {
		return fmt.Errorf("port 25 was not refused: %v", err)
	}

	// The internal backend the service may reach: a web server on loopback,
	// known to the service as backend.internal.
	backend, backendPort, err := startBackend()
	if err != nil {
		return err
	}
	defer backend.Close()

	// 2. The policy, from a file.
	dir, err := os.MkdirTemp("", "egress-example")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := *policyPath
	if path == "" {
		path = filepath.Join(dir, "egress.yaml")
		if err := os.WriteFile(path, defaultPolicy, 0o600); err != nil {
			return err
		}
	}
	cfg, err := policyfile.Load(path)
	if err != nil {
		return err
	}
	var metrics egress.Metrics
	cfg.Metrics = &metrics
	cfg.Resolver = internalDNS{"backend.internal": netip.MustParseAddr("127.0.0.1")}
	cfg.Logger = slog.New(slog.NewTextHandler(prefixWriter{out, "   log: "}, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "detail" {
				return slog.Attr{} // keep the example's output short and stable
			}
			return a
		},
	}))
	policy, err := egress.NewPolicy(cfg)
	if err != nil {
		return err
	}
	holder := egress.NewPolicyHolder(policy)
	fmt.Fprintf(out, "2. policy loaded from %s: %d rules, default %s, require_scope %v\n", filepath.Base(path), len(cfg.Rules), cfg.Default, cfg.RequireScope)

	// A broken edit is refused with its line; the policy in force stays.
	broken := filepath.Join(dir, "broken.yaml")
	os.WriteFile(broken, []byte("default: deny\nrules:\n  - name: oops\n    action: allow\n    addrs: [10.0.0.0/33]\n"), 0o600)
	err = policyfile.Reload(holder, broken)
	msg := strings.ReplaceAll(fmt.Sprint(err), dir+string(os.PathSeparator), "")
	fmt.Fprintf(out, "   reload of a broken file refused: %s\n   policy in force unchanged: %v\n\n", msg, holder.Policy() == policy)

	// 3. The link preview service: each request in its own scope, every
	// fetch through an outbound socket under the policy.
	opts := fs.Options()
	opts.Policy = holder
	transport := dialers.NewHTTPTransport(&dialers.Dialer{Options: opts})
	transport.DisableKeepAlives = true // one connection per fetch, in the fetching request's scope
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}

	leaked := make(chan *sockets.Socket, 8)
	mux := http.NewServeMux()
	mux.HandleFunc("/preview", func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), "GET", r.URL.Query().Get("url"), nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resp, err := client.Do(req)
		if errors.Is(err, sockets.ErrDenied) {
			http.Error(w, "refused: "+denialReason(err), http.StatusForbidden)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		w.WriteHeader(resp.StatusCode)
		w.Write(body)
	})
	// 4. A handler that forgets to close its sockets.
	mux.HandleFunc("/fanout", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 3; i++ {
			s, err := sockets.Connect(r.Context(), "backend.internal:"+backendPort, opts)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			if _, err := s.Opened(r.Context()); err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			leaked <- s // and no s.Close()
		}
		fmt.Fprint(w, "opened 3 sockets")
	})
	service, serviceURL, err := serve(scopehttp.Middleware(mux))
	if err != nil {
		return err
	}
	defer service.Close()

	fmt.Fprintln(out, "3. link preview service, one scope per request:")
	for _, target := range []string{
		"http://backend.internal:" + backendPort + "/",
		"http://169.254.169.254/latest/meta-data/iam/security-credentials/",
		"http://127.0.0.1:6379/",
		"http://[::ffff:169.254.169.254]/latest/meta-data/",
	} {
		status, body, err := get(ctx, serviceURL+"/preview?url="+url.QueryEscape(target))
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "   GET /preview?url=%s\n   -> %d %s\n", target, status, strings.TrimSpace(body))
	}
	fmt.Fprintln(out)

	fmt.Fprintln(out, "4. a handler that does not close its sockets:")
	status, body, err := get(ctx, serviceURL+"/fanout")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   GET /fanout -> %d %s\n", status, body)
	closed, opened := 0, len(leaked)
	for n := opened; n > 0; n-- {
		s := <-leaked
		// AfterClose runs once the socket's ending is complete (its scope
		// slot and the open-socket counter given back), unlike Closed,
		// which fires first.
		ended := make(chan struct{})
		s.AfterClose(func() { close(ended) })
		select {
		case <-ended:
			closed++
		case <-time.After(5 * time.Second):
		}
	}
	fmt.Fprintf(out, "   sockets closed by the request's scope when the handler returned: %d of %d\n", closed, opened)
	_, err = sockets.Connect(ctx, "backend.internal:"+backendPort, opts)
	fmt.Fprintf(out, "   Connect outside any request: %v\n\n", errors.Is(err, sockets.ErrDenied))

	// The service's scopes close their sockets when each request ends, which
	// can be just after the client has read the response: give them a moment.
	for deadline := time.Now().Add(5 * time.Second); metrics.Stats().Open > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	st := metrics.Stats()
	fmt.Fprintf(out, "5. counters: allowed %d, denied %d (by rule %d, by default %d, no scope %d), open %d\n",
		st.Allowed, st.DeniedTotal(), st.Denied[egress.ReasonRule], st.Denied[egress.ReasonDefault], st.Denied[egress.ReasonRequireScope], st.Open)
	return nil
}

// denialReason returns the policy's explanation from a fetch error.
func denialReason(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, sockets.ErrDenied.Error()+": "); i >= 0 {
		return msg[i+len(sockets.ErrDenied.Error())+2:]
	}
	return msg
}

func get(ctx context.Context, u string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// serve runs h on 127.0.0.1 until the returned server is closed.
func serve(h http.Handler) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv, "http://" + ln.Addr().String(), nil
}

func startBackend() (*http.Server, string, error) {
	srv, u, err := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello from the internal backend")
	}))
	if err != nil {
		return nil, "", err
	}
	return srv, u[strings.LastIndexByte(u, ':')+1:], nil
}

// prefixWriter indents each line written to it.
type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	_, err := io.WriteString(p.w, p.prefix+string(b))
	return len(b), err
}
