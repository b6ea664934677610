package dialers_test

import (
	"crypto/tls"

	"github.com/outboundhq/outbound/internal/redisfake"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// newFakeRedis starts a fake Redis on 127.0.0.1, over TLS when cfg is not nil.
func newFakeRedis(cfg *tls.Config) (*sockettest.Server, error) {
	if cfg != nil {
		return sockettest.NewTLSServer(cfg, redisfake.New().Serve)
	}
	return sockettest.NewServer(redisfake.New().Serve)
}
