// Package sshtest runs an in-process SSH server for tests and examples of
// package sshdial: a golang.org/x/crypto/ssh server on 127.0.0.1, on a port
// chosen by the kernel, with a fresh ed25519 host key, public-key and
// password authentication for a fixed set of users, a few built-in commands
// for "exec" requests, and the "sftp" subsystem (github.com/pkg/sftp) over
// an in-memory file system that every session of the server shares.
//
//	srv, err := sshtest.NewServer(&sshtest.Options{
//		AuthorizedKeys: map[string][]ssh.PublicKey{"alice": {signer.PublicKey()}},
//	})
//	if err != nil {
//		return err
//	}
//	defer srv.Close()
//	cfg := &ssh.ClientConfig{
//		User:            "alice",
//		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
//		HostKeyCallback: ssh.FixedHostKey(srv.HostKey()),
//	}
//
// The built-in commands are "echo ARGS..." (prints its arguments), "whoami"
// (prints the user), "sha256sum" (prints the SHA-256 of its standard input,
// as coreutils does for "-") and "exit N". Anything else fails with exit
// status 127. There is no shell, pty, environment or port forwarding.
//
// Nothing here takes a testing.TB, so the same server runs inside an example
// program's main function.
package sshtest
