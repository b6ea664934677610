package mysql_test

import (
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	bundle := trustTestCA()
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if bundle != "" {
			os.Remove(bundle)
		}
		os.Exit(code)
	}))
}

// trustTestCA adds the test CA (OUTBOUND_TEST_MYSQL_CA) to this process's
// system roots, as an operator would by installing it, so that tls=true
// (verification against the system roots) can be tested against the real
// server. It writes a bundle of the current roots file plus the CA and points
// SSL_CERT_FILE at it (read when the roots are first loaded), returning the
// bundle's path, or "" when there is no CA to add.
func trustTestCA() string {
	if os.Getenv(wrongRootsChild) != "" {
		return "" // TestTLSTrueWrongCA's child runs with its own roots
	}
	ca, err := os.ReadFile(caFile())
	if err != nil {
		return ""
	}
	var bundle []byte
	if cur := os.Getenv("SSL_CERT_FILE"); cur != "" {
		bundle, _ = os.ReadFile(cur)
	} else {
		for _, f := range []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"} {
			if b, err := os.ReadFile(f); err == nil {
				bundle = b
				break
			}
		}
	}
	f, err := os.CreateTemp("", "outbound-mysql-roots-*.pem")
	if err != nil {
		return ""
	}
	_, werr := f.Write(append(append(bundle, '\n'), ca...))
	if cerr := f.Close(); werr != nil || cerr != nil {
		os.Remove(f.Name())
		return ""
	}
	os.Setenv("SSL_CERT_FILE", f.Name())
	return f.Name()
}

// caFile resolves OUTBOUND_TEST_MYSQL_CA (a relative path is relative to the
// module root, as .ci/run writes it); "" when the variable is unset.
func caFile() string {
	p := os.Getenv("OUTBOUND_TEST_MYSQL_CA")
	if p == "" {
		return ""
	}
	if filepath.IsAbs(p) {
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		return p
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, p)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return p
		}
		dir = parent
	}
}
