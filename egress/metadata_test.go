package egress_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/sockets"
)

// TestMetadataEndpoints: every cloud metadata endpoint we can source is in
// the "metadata" class (sources in classify.go), so a policy that denies
// only that class refuses each one, under every spelling of the address.
func TestMetadataEndpoints(t *testing.T) {
	endpoints := []string{
		"169.254.169.254",        // AWS, GCP, Azure, OpenStack, Oracle, Akamai, ...
		"fd00:ec2::254",          // AWS IMDS IPv6
		"169.254.170.2",          // AWS ECS task metadata
		"169.254.170.23",         // AWS EKS Pod Identity
		"fd00:ec2::23",           // AWS EKS Pod Identity IPv6
		"fd20:ce::254",           // Google Cloud IPv6
		"168.63.129.16",          // Azure WireServer
		"fe80::a9fe:a9fe",        // OpenStack IPv6
		"fd00:c1::a9fe:a9fe",     // Oracle Cloud IPv6
		"192.0.0.192",            // Oracle Cloud classic
		"169.254.0.23",           // Tencent Cloud
		"100.100.100.200",        // Alibaba Cloud
		"fd00:a9fe:a9fe::1",      // Akamai/Linode IPv6
		"::ffff:169.254.0.23",    // IPv4-mapped spelling
		"64:ff9b::a9fe:17",       // NAT64 spelling of 169.254.0.23
		"64:ff9b::a83f:8110",     // NAT64 spelling of 168.63.129.16
		"2002:a9fe:aa02::1",      // 6to4 spelling of 169.254.170.2
		"::ffff:100.100.100.200", // IPv4-mapped Alibaba
	}
	p := newPolicy(t, egress.PolicyConfig{Rules: []egress.Rule{{Name: "no-metadata", Action: egress.Deny, Addrs: []string{"metadata"}}}})
	for _, ep := range endpoints {
		ip := netip.MustParseAddr(ep)
		if !slices.Contains(egress.AddrClasses(ip), "metadata") {
			t.Errorf("AddrClasses(%s) = %v, want it to include metadata", ep, egress.AddrClasses(ip))
		}
		addr := netip.AddrPortFrom(ip, 80).String()
		if _, err := sockets.Connect(ctxT(t), addr, &sockets.Options{Policy: p}); !isDenied(err) {
			t.Errorf("Connect(%s) under a policy denying metadata = %v, want ErrDenied", addr, err)
		}
	}
	// Neighbours of the single addresses stay out of the class.
	for _, ep := range []string{"169.254.0.24", "fd20:ce::253", "fe80::a9fe:a9ff", "168.63.129.17"} {
		if slices.Contains(egress.AddrClasses(netip.MustParseAddr(ep)), "metadata") {
			t.Errorf("AddrClasses(%s) includes metadata", ep)
		}
	}
}
