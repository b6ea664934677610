// Package telemetry exports what outbound's sockets do as OpenTelemetry
// metrics and spans.
//
// A [*Telemetry] is a sockets.Layer: add it to the one dialer every adapter
// takes, and every connection of pgx, mysql, SMTP, MQTT, Redis, HTTP and the
// rest is counted.
//
//	tel, err := telemetry.New(&telemetry.Options{MeterProvider: mp, TracerProvider: tp})
//	d := &dialers.Dialer{Options: &sockets.Options{Policy: policy, Layers: []sockets.Layer{tel}}}
//
// Metrics (no hostnames or addresses as attributes; their values come from
// fixed sets, so an attacker choosing hosts cannot blow up cardinality):
//
//   - outbound.connections.opened, outbound.connections.open: connections
//     opened, and open now;
//   - outbound.connections.failed {error.type}: failed attempts, by a fixed
//     classification (denied, limit, timeout, canceled, dns, refused, reset,
//     unreachable, other);
//   - outbound.connect.duration {outcome, error.type}: time to open the TCP
//     connection (resolving, dial-time egress decisions, connecting, proxy
//     handshake);
//   - outbound.io {network.io.direction}: bytes on the wire (ciphertext for TLS).
//
// With a TracerProvider, each connection attempt is a client span
// "outbound.connect", a child of the span in the connect's context, carrying
// server.address and server.port (hosts are allowed on spans), the peer
// address connected to, the outcome and the duration.
//
// A socket that does not use a Telemetry pays nothing for it. One that does
// pays a wrapper on its transport: bytes are counted per Read and Write,
// and io.Copy between two such sockets no longer hands the copy to the
// kernel (splice).
package telemetry
