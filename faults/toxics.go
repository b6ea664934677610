package faults

import (
	"errors"
	"fmt"
	"time"
)

// A Toxic is one fault: what happens to the connections a [Rule] matches.
// The toxics are the types of this package ([Latency], [Bandwidth],
// [Slicer], [Timeout], [ResetPeer], [LimitData], [SlowClose] on the data
// path; [Refuse], [ConnectDelay], [Blackhole] at connect time), with the
// meanings of Shopify's toxiproxy where it has the same toxic.
type Toxic interface {
	// check reports a bad value, naming the field to change.
	check() error
	// connect reports whether the toxic acts on the connect (true) or on
	// the data path (false).
	connect() bool
}

// Latency delays the data in the rule's direction by Latency ± Jitter
// (toxiproxy's latency). Each Write is held for the delay before its bytes
// go out; each Read hands on its bytes the delay after they arrived.
type Latency struct {
	Latency time.Duration
	// Jitter spreads each delay uniformly over [Latency-Jitter, Latency+Jitter).
	Jitter time.Duration
}

// Bandwidth limits the data in the rule's direction to Rate bytes per
// second (toxiproxy's bandwidth, whose rate is in KB/s). Writes go out in
// pieces of a fiftieth of a second's worth; reads take at most that much at
// a time, so TCP's flow control slows the peer down as a slow link would.
type Bandwidth struct {
	Rate int64 // bytes per second, > 0
}

// Slicer splits the data in the rule's direction into pieces of about
// AverageSize bytes (± SizeVariation), with Delay between them (toxiproxy's
// slicer, whose delay is in microseconds). A Write goes out as several
// writes; a Read returns at most one piece.
type Slicer struct {
	AverageSize   int // bytes, > 0
	SizeVariation int // bytes, < AverageSize
	Delay         time.Duration
}

// Timeout stops the data in the rule's direction: writes and reads wait
// (deadlines still apply, so the driver sees its own timeout), and the
// connection closes Timeout after the rule started applying to it (its
// dial, or the rule's Add for an open connection). A zero Timeout never
// closes: data waits until the rule is removed, and then flows again on
// the same connection with nothing lost, as after a network partition heals
// (toxiproxy drops the data instead, and closes the connection when the
// toxic is removed).
type Timeout struct {
	Timeout time.Duration
}

// ResetPeer resets the connection as a peer's TCP RST does (toxiproxy's
// reset_peer): the peer sees the RST too, pending data is discarded, and
// the connection's reads and writes fail with ECONNRESET.
//
// With AfterBytes zero, the reset comes Timeout after the rule started
// applying to the connection (its dial, or the rule's Add for an open
// connection), whether or not data flows; zero means at once. With
// AfterBytes, it comes as soon as AfterBytes bytes have passed in the
// rule's direction (the Read or Write that reaches the limit hands on the
// bytes up to it), and Timeout must be zero.
type ResetPeer struct {
	Timeout    time.Duration
	AfterBytes int64
}

// LimitData closes the connection once Bytes bytes have passed in the
// rule's direction (toxiproxy's limit_data, counted per direction): the
// Read or Write that reaches the limit hands on the bytes up to it, later
// reads return io.EOF, and a write cut short fails with EPIPE.
type LimitData struct {
	Bytes int64 // > 0
}

// SlowClose delays the close by Delay (toxiproxy's slow_close): with
// direction Upstream, the peer sees this end's Close that much later; with
// Downstream, this end sees the peer's EOF that much later.
type SlowClose struct {
	Delay time.Duration
}

// Refuse fails the connect as a closed port does: an error matching
// syscall.ECONNREFUSED in a *net.OpError. No connection is made when the
// rule matches before the dial (see [Match.Prefix]).
type Refuse struct{}

// ConnectDelay delays the connect by Delay, bounded by the dial's context.
type ConnectDelay struct {
	Delay time.Duration
}

// Blackhole makes the connect hang, as a dropped SYN does, until the dial's
// context ends (the error is then a timeout, or the context's cancellation)
// or the rule is removed (the connect then goes ahead).
type Blackhole struct{}

func (t Latency) check() error {
	if t.Latency < 0 || t.Jitter < 0 {
		return errors.New("fields Latency and Jitter must not be negative")
	}
	if t.Jitter > t.Latency {
		return errors.New("field Jitter must not exceed Latency")
	}
	return nil
}

func (t Bandwidth) check() error {
	if t.Rate <= 0 {
		return fmt.Errorf("field Rate must be positive bytes per second, got %d", t.Rate)
	}
	return nil
}

func (t Slicer) check() error {
	if t.AverageSize <= 0 {
		return fmt.Errorf("field AverageSize must be positive, got %d", t.AverageSize)
	}
	if t.SizeVariation < 0 || t.SizeVariation >= t.AverageSize {
		return fmt.Errorf("field SizeVariation must be at least 0 and less than AverageSize (%d), got %d", t.AverageSize, t.SizeVariation)
	}
	if t.Delay < 0 {
		return errors.New("field Delay must not be negative")
	}
	return nil
}

func (t Timeout) check() error {
	if t.Timeout < 0 {
		return errors.New("field Timeout must not be negative (zero means never close)")
	}
	return nil
}

func (t ResetPeer) check() error {
	if t.Timeout < 0 || t.AfterBytes < 0 {
		return errors.New("fields Timeout and AfterBytes must not be negative")
	}
	if t.AfterBytes > 0 && t.Timeout > 0 {
		return errors.New("set Timeout or AfterBytes, not both")
	}
	return nil
}

func (t LimitData) check() error {
	if t.Bytes <= 0 {
		return fmt.Errorf("field Bytes must be positive, got %d", t.Bytes)
	}
	return nil
}

func (t SlowClose) check() error {
	if t.Delay < 0 {
		return errors.New("field Delay must not be negative")
	}
	return nil
}

func (Refuse) check() error { return nil }

func (t ConnectDelay) check() error {
	if t.Delay < 0 {
		return errors.New("field Delay must not be negative")
	}
	return nil
}

func (Blackhole) check() error { return nil }

func (Latency) connect() bool      { return false }
func (Bandwidth) connect() bool    { return false }
func (Slicer) connect() bool       { return false }
func (Timeout) connect() bool      { return false }
func (ResetPeer) connect() bool    { return false }
func (LimitData) connect() bool    { return false }
func (SlowClose) connect() bool    { return false }
func (Refuse) connect() bool       { return true }
func (ConnectDelay) connect() bool { return true }
func (Blackhole) connect() bool    { return true }
