//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/slotless/slotless/e2e/azurefake"
	"github.com/slotless/slotless/internal/pool"
	"github.com/slotless/slotless/stack"
)

// armToken is the access token the scripted az CLI hands out, for every audience; the ARM
// facade and the scripted Log Analytics accept it.
const armToken = e2eToken

// loadSchema reads the schema the stand-in validates against, once.
var loadSchema = sync.OnceValues(func() (*azurefake.Schema, error) {
	return azurefake.LoadSchema(filepath.Join(repoRoot, "sdks", "azure-native", "schema.json"))
})

// armFacade is the stand-in's Resource Manager for one user's cloud, over TLS from a local CA,
// with an az CLI signed in to the user's subscription.
type armFacade struct {
	url string
	// caFile holds the CA's certificate; azDir the scripted az CLI.
	caFile, azDir string
	ca            []byte
	pool          *azurefake.CA
}

// withARM starts the ARM facade over the user's cloud: from then on every command the user
// runs reaches it, as a signed-in az CLI and Azure's public cloud would be reached.
func (u *user) withARM() *armFacade {
	u.t.Helper()
	schema, err := loadSchema()
	if err != nil {
		u.t.Fatal(err)
	}
	// The release identity signs in with its own token, which role assignments authorize.
	srv, ca, err := azurefake.StartARMFor(&azurefake.Fake{Schema: schema, Store: u.cloud, Subscription: u.sub}, armToken,
		map[string]string{releaseToken: releasePrincipal, strangerToken: strangerPrincipal})
	if err != nil {
		u.t.Fatal(err)
	}
	u.t.Cleanup(srv.Close)
	dir := u.t.TempDir()
	a := &armFacade{url: srv.URL, caFile: filepath.Join(dir, "ca.pem"), azDir: filepath.Join(dir, "az"), ca: ca.PEM, pool: ca}
	if err := os.WriteFile(a.caFile, ca.PEM, 0o600); err != nil {
		u.t.Fatal(err)
	}
	writeAz(u.t, a.azDir, u.sub)
	u.arm = a
	return a
}

// writeAz writes the az CLI as azure/login or `az login` leaves it: `az account show` names
// the subscription, and `az account get-access-token` answers with the token.
func writeAz(t testing.TB, dir, sub string) {
	t.Helper()
	writeAzWith(t, dir, sub, armToken)
}

// writeAzWith is writeAz for an identity signed in with token.
func writeAzWith(t testing.TB, dir, sub, token string) {
	t.Helper()
	az := "#!/bin/sh\necho \"$*\" >>\"$(dirname \"$0\")/calls\"\n" +
		"if [ \"$1 $2\" = \"account show\" ]; then echo " + sub + "; exit 0; fi\n" +
		"printf '{\"accessToken\":\"" + token + "\",\"expires_on\":%s,\"tokenType\":\"Bearer\"}\\n' \"$(($(date +%s) + 3600))\"\n"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "az"), []byte(az), 0o755); err != nil {
		t.Fatal(err)
	}
}

// armEnv is what a user's commands see of the facade.
func (a *armFacade) env() map[string]string {
	return map[string]string{
		"ARM_RESOURCE_MANAGER_ENDPOINT": a.url,
		"SSL_CERT_FILE":                 a.caFile,
		"AZURE_TOKEN_CREDENTIALS":       "AzureCliCredential",
		// No CI identity: the az CLI's credential is the one used.
		"ACTIONS_ID_TOKEN_REQUEST_URL": "",
		"SYSTEM_OIDCREQUESTURI":        "",
	}
}

// portalEdit sets the pool's weights the way someone in the portal does: a write through ARM
// that Pulumi does not see.
func (u *user) portalEdit(w stack.Weights) {
	u.t.Helper()
	t := u.poolTarget()
	if u.arm == nil {
		u.t.Fatal("portalEdit needs the ARM facade: call withARM first")
	}
	// The portal's own client, to the same Resource Manager.
	client, err := pool.NewClient(staticCredential(armToken), pool.Options{Endpoint: u.arm.url, Transport: tlsClient(u.arm.pool)})
	if err != nil {
		u.t.Fatal(err)
	}
	var out bytes.Buffer
	// The portal changes the weights and leaves the description as it was.
	if _, err := client.Write(context.Background(), t, w, "", "", &out); err != nil {
		u.t.Fatalf("portal edit: %v\n%s", err, out.String())
	}
}

// poolTarget names the user's pool and current-slot-name as the cloud holds them.
func (u *user) poolTarget() pool.Target {
	u.t.Helper()
	c, err := u.cloud.Load()
	if err != nil {
		u.t.Fatal(err)
	}
	var poolID string
	for _, r := range c.ByType("azure-native:apimanagement:Backend") {
		if r.Subscription == u.sub && r.Inputs["type"] == "Pool" {
			poolID = r.ID
		}
	}
	t, err := pool.TargetFromPoolID(poolID)
	if err != nil {
		u.t.Fatal(err)
	}
	return t
}

// staticCredential hands out one token.
type staticCredential string

func (s staticCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// tlsClient trusts the CA alone.
func tlsClient(ca *azurefake.CA) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}}
}
