package sshdial_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/dialers/sshdial"
	"github.com/outboundhq/outbound/dialers/sshdial/sshtest"
	"github.com/outboundhq/outbound/sockets"
)

// exampleServer starts an in-process SSH server that lets alice in with a
// new key, and returns the server and the client config for alice.
func exampleServer() (*sshtest.Server, *ssh.ClientConfig) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	key, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		log.Fatal(err)
	}
	srv, err := sshtest.NewServer(&sshtest.Options{AuthorizedKeys: map[string][]ssh.PublicKey{"alice": {key.PublicKey()}}})
	if err != nil {
		log.Fatal(err)
	}
	return srv, &ssh.ClientConfig{
		User:            "alice",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(key)},
		HostKeyCallback: ssh.FixedHostKey(srv.HostKey()),
	}
}

// Run a command on an SSH server through an outbound socket.
func ExampleDial() {
	srv, cfg := exampleServer()
	defer srv.Close()

	client, err := sshdial.Dial(context.Background(), &dialers.Dialer{}, srv.Addr(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		log.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.Output("echo hello over outbound")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(out))
	// Output: hello over outbound
}

// Copy a file with SFTP (github.com/pkg/sftp) over the SSH connection.
func ExampleDial_sftp() {
	srv, cfg := exampleServer()
	defer srv.Close()

	client, err := sshdial.Dial(context.Background(), nil, srv.Addr(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	fs, err := sftp.NewClient(client)
	if err != nil {
		log.Fatal(err)
	}
	defer fs.Close()

	f, err := fs.Create("notes.txt")
	if err != nil {
		log.Fatal(err)
	}
	io.WriteString(f, "copied over SFTP\n")
	f.Close()

	f, err = fs.Open("notes.txt")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	fmt.Print(string(b))
	// Output: copied over SFTP
}

// SSH over a socket from sockets.Connect, as a Workers script would hold it.
func ExampleNewClient() {
	srv, cfg := exampleServer()
	defer srv.Close()

	ctx := context.Background()
	socket, err := sockets.Connect(ctx, srv.Addr(), nil)
	if err != nil {
		log.Fatal(err)
	}
	client, err := sshdial.NewClient(ctx, socket, srv.Addr(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		log.Fatal(err)
	}
	defer sess.Close()
	sess.Stdin = strings.NewReader("abc")
	out, err := sess.Output("sha256sum")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(out))
	// Output: ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  -
}
