package gatewayauth

import (
	"crypto/tls"
	"net/url"
	"testing"

	"github.com/slotless/slotless/e2e/azurefake"
)

func tlsConfig(ca *azurefake.CA) *tls.Config {
	return &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
