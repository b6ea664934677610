// Package smtptest runs an in-process SMTP server for tests, examples and
// benchmarks of the smtp package: an [emersion/go-smtp] server on 127.0.0.1 on
// a port chosen by the kernel, with STARTTLS or implicit TLS (with a
// certificate from, for example, a [sockettest.CA]), AUTH PLAIN and LOGIN for
// a fixed set of users, hooks that refuse recipients or messages with chosen
// SMTP errors, and a record of every message it accepted.
//
//	ca, _ := sockettest.NewCA()
//	cfg, _ := ca.ServerConfig()
//	srv, err := smtptest.NewServer(&smtptest.Options{
//		TLSConfig: cfg,
//		Users:     map[string]string{"alice": "secret"},
//	})
//	if err != nil {
//		return err
//	}
//	defer srv.Close()
//	// ... send mail to srv.Addr() ...
//	for _, m := range srv.Messages() {
//		fmt.Println(m.From, m.To, len(m.Data))
//	}
//
// Nothing here takes a testing.TB, so the same server runs inside an example
// program's main function.
//
// [emersion/go-smtp]: https://pkg.go.dev/github.com/emersion/go-smtp
// [sockettest.CA]: https://pkg.go.dev/github.com/outboundhq/outbound/sockets/sockettest#CA
package smtptest
