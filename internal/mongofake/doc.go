// Package mongofake is an in-process stand-in for MongoDB, for the examples
// and the tour: it speaks the OP_MSG wire protocol for the few commands the
// MongoDB Go driver needs to connect, ping, insert, find and drop, with
// documents kept in memory. It is not MongoDB (no indexes, operators,
// cursors beyond the first batch, or authentication); it shows what a driver
// sends over the socket, on machines that have no MongoDB.
//
//	srv, err := sockettest.NewServer(mongofake.New().Serve)
//	// mongodb://<srv.Addr()>/?directConnection=true
package mongofake
