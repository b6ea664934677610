// Package redisfake is an in-process stand-in for a Redis server, for the
// examples, the tour and the tests: enough RESP2 for go-redis to PING, SET,
// GET, INCR, DEL and ECHO, with keys kept in memory. It is not a Redis to
// deploy.
//
// It takes connections from any listener; with sockettest:
//
//	srv, err := sockettest.NewTLSServer(tlsConfig, redisfake.New().Serve)
package redisfake
