package azurefake

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/google/uuid"
)

// Built-in data roles by GUID (MicrosoftDocs azure-docs,
// role-based-access-control/built-in-roles/storage.md).
const (
	StorageBlobDataContributor = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
	StorageBlobDataOwner       = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
)

// BlobEndpoint is the Blob service reached as a command reaches it on Azure: an HTTPS proxy
// (AppProxy) answering for <account>.blob.core.windows.net with the CA's certificates. A
// command finds it in HTTPS_PROXY and trusts the CA through SSL_CERT_FILE; an in-process client
// uses Client.
type BlobEndpoint struct {
	Proxy *httptest.Server
	CA    *CA
}

// StartBlobEndpoint serves svc (and, when hosts is not nil, the apps' own hosts) behind a proxy
// with ca's certificates.
func StartBlobEndpoint(svc *BlobService, hosts http.Handler, ca *CA) *BlobEndpoint {
	if hosts == nil {
		hosts = http.NotFoundHandler()
	}
	return &BlobEndpoint{Proxy: httptest.NewServer(AppProxy{Hosts: hosts, CA: ca, Blobs: svc}), CA: ca}
}

// Client is an HTTP client that reaches the endpoint as a command's default client does with
// HTTPS_PROXY set and the CA trusted.
func (e *BlobEndpoint) Client() *http.Client {
	u, _ := url.Parse(e.Proxy.URL)
	return &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: e.CA.Pool(), MinVersion: tls.VersionTLS12}}}
}

// Close stops the proxy.
func (e *BlobEndpoint) Close() { e.Proxy.Close() }

// PutStorage puts a storage account as the stack declares it (no shared keys, no anonymous
// access) with its containers into the cloud, for tests that need one without a deployment;
// it returns each container's resource id.
func (c *Cloud) PutStorage(sub, rg, account string, containers ...string) []string {
	in := map[string]any{"resourceGroupName": rg, "accountName": account, "allowSharedKeyAccess": false, "allowBlobPublicAccess": false}
	acct := &Resource{ID: armSpecs["azure-native:storage:StorageAccount"].path(sub, in), Token: "azure-native:storage:StorageAccount", Subscription: sub, Inputs: in, Properties: map[string]any{}}
	computeOnCreate(acct, in)
	c.Put(acct)
	var ids []string
	for _, name := range containers {
		cin := map[string]any{"resourceGroupName": rg, "accountName": account, "containerName": name, "publicAccess": "None"}
		id := armSpecs["azure-native:storage:BlobContainer"].path(sub, cin)
		c.Put(&Resource{ID: id, Token: "azure-native:storage:BlobContainer", Subscription: sub, Inputs: cin, Properties: map[string]any{"name": name}})
		ids = append(ids, id)
	}
	return ids
}

// Assign puts a role assignment of a built-in role (by GUID) to principal at scope, as
// `az role assignment create` would.
func (c *Cloud) Assign(sub, principal, roleGUID, scope string) {
	name := uuid.NewString()
	in := map[string]any{"roleAssignmentName": name, "scope": scope, "principalId": principal,
		"roleDefinitionId": fmt.Sprintf("/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s", sub, roleGUID)}
	c.Put(&Resource{ID: scope + "/providers/Microsoft.Authorization/roleAssignments/" + name, Token: "azure-native:authorization:RoleAssignment", Subscription: sub, Inputs: in, Properties: map[string]any{}})
}
