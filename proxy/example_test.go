package proxy_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/proxy"
	"github.com/outboundhq/outbound/sockets"
)

func ExampleSOCKS5() {
	via := &proxy.SOCKS5{Addr: "127.0.0.1:1080"}
	opts := &sockets.Options{
		Proxy: via,
		// Hostname and port rules still apply here; address rules for
		// names are the proxy's job.
		Policy: mustPolicy(egress.NewPolicy(egress.PolicyConfig{Rules: []egress.Rule{
			{Action: egress.Deny, Hosts: []string{"*.internal.example"}},
		}})),
	}
	_, err := sockets.Connect(context.Background(), "db.internal.example:5432", opts)
	fmt.Println(errors.Is(err, sockets.ErrDenied))
	// Output:
	// true
}

func ExampleFromEnvironment() {
	// With ALL_PROXY=socks5h://proxy.example:1080 and NO_PROXY=.internal.example
	// in the environment, internal names are dialled directly and the rest
	// through the proxy.
	opts := &sockets.Options{Proxy: proxy.FromEnvironment()}
	_ = opts
}

func mustPolicy(v *egress.Policy, err error) *egress.Policy {
	if err != nil {
		panic(err)
	}
	return v
}
