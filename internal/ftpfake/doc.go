// Package ftpfake is an in-process FTP server with explicit TLS (AUTH TLS),
// for the examples and the tour: enough of RFC 959, RFC 4217 and RFC 2428 for
// github.com/jlaffaye/ftp to log in, upload, ask a file's size, download and
// delete, with files kept in memory. It is a stand-in, not an FTP server to
// deploy: one user, passive mode only, no directories.
//
// It takes connections from any listener; with sockettest:
//
//	srv, err := sockettest.NewServer(ftpfake.New(tlsConfig, "alice", "secret").Serve)
package ftpfake
