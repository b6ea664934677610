// Package sshbastion reaches private servers through an SSH bastion (a jump
// host): every connection is a direct-tcpip channel ("ssh -W", "ssh -J") of
// one SSH client connection per bastion, shared by all the sockets that use
// it and dialled again when it drops.
//
// A [*Bastion] is a sockets proxy: set it as [sockets.Options].Proxy (or on
// the one dialers.Dialer every adapter takes) and pgx, mysql, SMTP, Redis and
// the rest reach their servers through the bastion, with the egress policy
// still applied to the final target: host and port rules are decided before
// anything is sent, and the target's name is resolved by the bastion.
//
//	hostKeys, err := sshbastion.KnownHosts(os.ExpandEnv("$HOME/.ssh/known_hosts"))
//	b, err := sshbastion.New("bastion.example.com:22", &ssh.ClientConfig{
//		User:            "deploy",
//		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
//		HostKeyCallback: hostKeys,
//	})
//	defer b.Close()
//	d := &dialers.Dialer{Options: &sockets.Options{Proxy: b, Policy: policy}}
//
// Host keys are always checked: a nil HostKeyCallback is refused, and
// [KnownHosts] reads OpenSSH known_hosts files.
//
// What a bastion enforces where: the local egress policy decides the target's
// host and port (and its address when the target is an IP literal) before the
// channel is opened; the bastion's sshd decides whether it forwards at all
// (AllowTcpForwarding, PermitOpen). Names are resolved on the bastion, so
// address rules for names are the bastion's job, as with any proxy that
// resolves names.
//
// Each tunnelled connection has one goroutine that moves the channel's data
// into a buffer, so that read deadlines work (SSH channels have none); the
// SSH connection has the goroutines of golang.org/x/crypto/ssh.
package sshbastion
