// Package capture shows what outbound sockets say on the wire: a
// [Capture] writes every socket's traffic to a pcapng file that Wireshark
// and tshark open, TLS session secrets included, and a [Trace] prints it as
// text for the terminal. Both are [sockets.Layer]s: put them in
// [sockets.Options.Layers], or in the Options of the dialers.Dialer every
// adapter takes, and every socket opened with those options is recorded.
//
//	c, err := capture.Create("wire.pcapng")
//	if err != nil { ... }
//	defer c.Close()
//	s, err := sockets.Connect(ctx, "db.example.com:5432", &sockets.Options{Layers: []sockets.Layer{c}})
//
// then
//
//	tshark -r wire.pcapng -Y pgsql.query
//
// Commands take both as flags with [RegisterFlags]: -capture FILE.pcapng
// and -trace.
//
// # What a capture holds
//
// Each connection is one TCP flow between its real local and remote
// addresses and ports (IPv4 or IPv6, raw IP packets, microsecond
// timestamps): a synthesised three-way handshake, then segments that carry
// exactly the bytes that crossed in each direction (at most 65,495 bytes a
// segment), with sequence and acknowledgement numbers that add up, and a
// FIN, or an RST where the peer reset the connection or an I/O error ended
// it. Nothing is captured from the network itself: the Layer sees the bytes
// the socket read and wrote, so a capture needs no privileges and sees
// loopback and proxied connections alike (for a proxied socket, the
// connection to the proxy).
//
// # TLS
//
// The Layer sits below TLS, so a TLS socket's records are captured as they
// crossed. For sockets that do TLS themselves (SecureTransport "on" and
// [sockets.Socket.StartTLS]) the capture sets KeyLogWriter on the socket's
// own clone of its tls.Config (never the caller's, whose KeyLogWriter, if
// any, still gets the secrets) and writes the secrets into the file as
// Decryption Secrets Blocks, so Wireshark decrypts with no key log file.
// For TLS a driver does over a plain socket (pgx by default, MySQL, net/http,
// go-smtp's STARTTLS), give the driver's tls.Config the capture's
// [Capture.KeyLogWriter].
//
// Wireshark reads the secrets as it meets them, so they must come before
// the records they decrypt. A captured connection that sends a TLS
// ClientHello has its packets held back until the key log names that
// handshake's secrets (matched by its client random), at most 5 seconds or
// 1 MiB; the secrets are written first, then the held packets.
//
// Anyone holding a capture with secrets can read the sessions it recorded:
// treat the file like the secrets.
//
// # Cost
//
// A socket without a capture pays nothing: the seam is one nil check when
// the socket opens. With one, every read and write takes the capture's
// lock and copies the bytes into a buffered file; see the README's
// "See the wire" section for measured numbers.
package capture
