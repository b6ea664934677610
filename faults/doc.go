// Package faults injects network faults into the connections of the one
// dialer: latency, bandwidth limits, sliced writes, stalls, resets,
// truncation, slow closes, and refused, slow or blackholed connects, so a
// program can test how its drivers (pgx, go-sql-driver/mysql, go-redis,
// paho, net/http) cope, in process, per destination, switched at run time,
// with no proxy and no change of DSN.
//
// An [Injector] is a [sockets.Layer]. Put it in the socket options, and so
// in the dialers.Dialer every adapter takes:
//
//	in := faults.New(nil)
//	d := &dialers.Dialer{Options: &sockets.Options{Layers: []sockets.Layer{in}}}
//	in.Add(faults.Rule{Name: "slow-db", Match: faults.Match{Port: 5432},
//		Toxic: faults.Latency{Latency: 50 * time.Millisecond}})
//	...
//	in.Remove("slow-db")
//
// The toxics have the meanings of Shopify's toxiproxy (latency, bandwidth,
// slicer, timeout, reset_peer, limit_data, slow_close), with a
// [Direction] (Downstream, the default, is what the peer sends; Upstream,
// what this program sends) and a [Rule.Toxicity] drawn per connection from a
// seed. The errors they cause are the network's own: a reset is an RST the
// peer sees too, and reads and writes fail with a *net.OpError matching
// syscall.ECONNRESET; a stall ends in the caller's deadline (a net.Error
// whose Timeout is true, matching os.ErrDeadlineExceeded); a close is
// io.EOF; a refused connect matches syscall.ECONNREFUSED.
//
// # Cost
//
// With no rules, Dial hands on the connection it was given, unwrapped (set
// [Options.AlwaysWrap] to let later rules reach connections opened before).
// A wrapped connection with no toxic acting in a direction reads or writes
// straight through after one atomic load; toxics that wait sleep on the
// calling goroutine (no goroutine per connection), woken early by
// deadlines, Close and rule changes.
//
// # Run-time changes
//
// [Injector.Add] and [Injector.Remove] apply to new connections and to the
// open connections the Injector wrapped: removing a [Timeout] lets held data
// flow again on the same connection; adding a [ResetPeer] resets open
// connections (at once, or after its Timeout). Connect-time toxics apply to
// connects only.
package faults
