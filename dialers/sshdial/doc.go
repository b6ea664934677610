// Package sshdial runs golang.org/x/crypto/ssh clients over outbound sockets:
// the SSH connection (and everything multiplexed on it: commands, SFTP with
// github.com/pkg/sftp, port forwarding) goes through [sockets.Connect], with
// its egress policy and the scope of the context it is dialed with.
//
//	client, err := sshdial.Dial(ctx, &dialers.Dialer{}, "host.example.com:22", &ssh.ClientConfig{
//		User:            "deploy",
//		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
//		HostKeyCallback: hostKeys, // knownhosts.New("~/.ssh/known_hosts"), or ssh.FixedHostKey
//	})
//
// SSH does its own encryption, so the socket is plain TCP (SecureTransport
// "off"). Unlike [ssh.Dial], the context bounds the SSH handshake too (key
// exchange and authentication), so a server that accepts the connection and
// then says nothing cannot hang the caller.
//
// It is a package of its own so that importing dialers does not compile
// golang.org/x/crypto/ssh. The subpackage sshtest runs an in-process SSH
// server (commands and SFTP) for tests and examples.
package sshdial
