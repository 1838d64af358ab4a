package azurefake

import (
	"encoding/xml"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	blobSub     = "00000000-0000-0000-0000-0000000000b1"
	blobAccount = "storagetest01"
	writerP     = "11111111-1111-4111-8111-111111111111"
	ownerP      = "22222222-2222-4222-8222-222222222222" // Storage Blob Data Owner on the account
	otherP      = "33333333-3333-4333-8333-333333333333" // a role on the other container only
)

// blobWorld is an account with two containers and an endpoint in front of it.
type blobWorld struct {
	store  *Store
	e      *BlobEndpoint
	client *http.Client
}

func newBlobWorld(t *testing.T) *blobWorld {
	t.Helper()
	store := &Store{Path: filepath.Join(t.TempDir(), "cloud.json")}
	if err := store.Update(func(c *Cloud) error {
		ids := c.PutStorage(blobSub, "rg", blobAccount, "history", "other")
		c.Assign(blobSub, writerP, StorageBlobDataContributor, ids[0])
		c.Assign(blobSub, otherP, StorageBlobDataContributor, ids[1])
		acct := strings.TrimSuffix(ids[0], "/blobServices/default/containers/history")
		c.Assign(blobSub, ownerP, StorageBlobDataOwner, acct)
		c.Assign(blobSub, "deployer", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "/subscriptions/"+blobSub) // Owner
		c.CreateServicePrincipal("https://storage.azure.com")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	e := StartBlobEndpoint(&BlobService{Store: store, Principals: map[string]string{"writer": writerP, "owner": ownerP, "other": otherP, "deployer": "deployer"}}, nil, ca)
	t.Cleanup(e.Close)
	return &blobWorld{store: store, e: e, client: e.Client()}
}

// answer is what the Blob service said: the status, x-ms-error-code and the headers.
type answer struct {
	status int
	code   string
	h      http.Header
	body   string
}

// do sends one request to https://<account>.blob.core.windows.net<path> as token ("" for
// none); headers are "Name: value" lines.
func (w *blobWorld) do(t *testing.T, method, account, path, token, body string, headers ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, "https://"+account+BlobHostSuffix+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("x-ms-version", "2025-11-05")
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return answer{status: -1, body: err.Error()}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, code: resp.Header.Get("x-ms-error-code"), h: resp.Header, body: string(raw)}
}

func (w *blobWorld) put(t *testing.T, name string, headers ...string) answer {
	return w.do(t, http.MethodPut, blobAccount, "/history/"+name, "writer", "content", append([]string{"x-ms-blob-type: BlockBlob"}, headers...)...)
}

func (w *blobWorld) lease(t *testing.T, name string, headers ...string) answer {
	return w.do(t, http.MethodPut, blobAccount, "/history/"+name+"?comp=lease", "writer", "", headers...)
}

func (w *blobWorld) cloud(t *testing.T, fn func(c *Cloud)) {
	t.Helper()
	if err := w.store.Update(func(c *Cloud) error { fn(c); return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestBlobAuthorization(t *testing.T) {
	w := newBlobWorld(t)
	var issued, wrongAudience string
	w.cloud(t, func(c *Cloud) {
		mi := &Resource{ID: "/subscriptions/" + blobSub + "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-id",
			Token: "azure-native:managedidentity:UserAssignedIdentity", Subscription: blobSub, Inputs: map[string]any{},
			Properties: map[string]any{"clientId": "app-client", "principalId": writerP, "tenantId": "tenant"}}
		c.Put(mi)
		c.CreateServicePrincipal("https://management.azure.com")
		var err error
		if issued, err = c.IssueToken("app-client", "https://storage.azure.com"); err != nil {
			t.Fatal(err)
		}
		if wrongAudience, err = c.IssueToken("app-client", "https://management.azure.com"); err != nil {
			t.Fatal(err)
		}
	})
	forged := ForgeToken(Claims{Aud: "https://storage.azure.com", Oid: writerP, Exp: time.Now().Add(time.Hour).Unix()})
	for _, tt := range []struct {
		name, token, container string
		headers                []string
		status                 int
		code                   string
	}{
		{"the container's writer", "writer", "history", nil, 201, ""},
		{"a token the tenant issued for Azure Storage", issued, "history", nil, 201, ""},
		{"Storage Blob Data Owner on the account covers its containers", "owner", "history", nil, 201, ""},
		{"a role on another container", "other", "history", nil, 403, "AuthorizationPermissionMismatch"},
		{"Owner of the subscription has no data actions", "deployer", "history", nil, 403, "AuthorizationPermissionMismatch"},
		{"a token for another audience", wrongAudience, "history", nil, 401, "InvalidAuthenticationInfo"},
		{"a token nobody issued", forged, "history", nil, 401, "InvalidAuthenticationInfo"},
		{"Shared Key, allowSharedKeyAccess false", "", "history", []string{"Authorization: SharedKey " + blobAccount + ":c2lnbmF0dXJl"}, 403, "KeyBasedAuthenticationNotPermitted"},
		{"anonymous, allowBlobPublicAccess false", "", "history", nil, 409, "PublicAccessNotPermitted"},
		{"a container that does not exist", "writer", "nope", nil, 404, "ContainerNotFound"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := w.do(t, http.MethodPut, blobAccount, "/"+tt.container+"/b", tt.token, "x", append([]string{"x-ms-blob-type: BlockBlob"}, tt.headers...)...)
			if got.status != tt.status || got.code != tt.code {
				t.Fatalf("got %d %s (%s), want %d %s", got.status, got.code, got.body, tt.status, tt.code)
			}
		})
	}
	if got := w.do(t, http.MethodGet, "nosuchaccount", "/history/b", "writer", ""); got.status != -1 {
		t.Errorf("an account that does not exist: got %d, want no connection (no DNS name)", got.status)
	}
}

// TestLeaseBlob walks the REST page's lease tables: each row a sequence from a fresh blob.
func TestLeaseBlob(t *testing.T) {
	const a, b = "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002"
	type step struct {
		op     string // acquire, renew, change, release, break, write, expire
		id     string // x-ms-lease-id
		arg    string // duration (acquire), proposed (change), period (break)
		status int
		code   string
		state  string // x-ms-lease-state after, from Get Blob Properties
	}
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"acquire on available, then 409 for another", []step{
			{"acquire", a, "60", 201, "", "leased"}, {"acquire", b, "60", 409, "LeaseAlreadyPresent", "leased"}}},
		{"acquire again with its own id sets a new duration", []step{
			{"acquire", a, "15", 201, "", "leased"}, {"acquire", a, "-1", 201, "", "leased"}, {"expire", "", "", 0, "", "leased"}}},
		{"durations outside 15..60 and -1 are refused", []step{
			{"acquire", a, "14", 400, "InvalidHeaderValue", "available"}, {"acquire", a, "61", 400, "InvalidHeaderValue", "available"}, {"acquire", a, "", 400, "MissingRequiredHeader", "available"}}},
		{"a write needs the lease's id", []step{
			{"acquire", a, "60", 201, "", "leased"}, {"write", "", "", 412, "LeaseIdMissing", "leased"},
			{"write", b, "", 412, "LeaseIdMismatchWithBlobOperation", "leased"}, {"write", a, "", 201, "", "leased"}}},
		{"a lease id on a blob without a lease", []step{{"write", a, "", 412, "LeaseNotPresentWithBlobOperation", "available"}}},
		{"an expired lease renews while the blob is unwritten", []step{
			{"acquire", a, "30", 201, "", "leased"}, {"expire", "", "", 0, "", "expired"}, {"renew", a, "", 200, "", "leased"}}},
		{"an expired lease is taken by another, then cannot renew", []step{
			{"acquire", a, "30", 201, "", "leased"}, {"expire", "", "", 0, "", "expired"}, {"acquire", b, "30", 201, "", "leased"},
			{"renew", a, "", 409, "LeaseIdMismatchWithLeaseOperation", "leased"}, {"release", a, "", 409, "LeaseIdMismatchWithLeaseOperation", "leased"}}},
		{"a write ends an expired lease", []step{
			{"acquire", a, "30", 201, "", "leased"}, {"expire", "", "", 0, "", "expired"}, {"write", a, "", 412, "LeaseLost", "expired"},
			{"write", "", "", 201, "", "available"}, {"renew", a, "", 409, "LeaseIdMismatchWithLeaseOperation", "available"}}},
		{"no renewal after a release", []step{
			{"acquire", a, "60", 201, "", "leased"}, {"release", a, "", 200, "", "available"}, {"renew", a, "", 409, "LeaseIdMismatchWithLeaseOperation", "available"},
			{"release", a, "", 409, "LeaseNotPresentWithLeaseOperation", "available"}, {"break", "", "", 409, "LeaseNotPresentWithLeaseOperation", "available"}}},
		{"change the id", []step{
			{"acquire", a, "60", 201, "", "leased"}, {"change", a, b, 200, "", "leased"}, {"renew", a, "", 409, "LeaseIdMismatchWithLeaseOperation", "leased"}, {"renew", b, "", 200, "", "leased"}}},
		{"a break with a period is breaking until time ends it", []step{
			{"acquire", a, "60", 201, "", "leased"}, {"break", "", "10", 202, "", "breaking"}, {"acquire", b, "60", 409, "LeaseIsBreakingAndCannotBeAcquired", "breaking"},
			{"renew", a, "", 409, "LeaseIsBrokenAndCannotBeRenewed", "breaking"}, {"write", a, "", 201, "", "breaking"}, {"expire", "", "", 0, "", "broken"}, {"acquire", b, "60", 201, "", "leased"}}},
		{"an infinite lease breaks at once", []step{
			{"acquire", a, "-1", 201, "", "leased"}, {"break", "", "", 202, "", "broken"}, {"write", "", "", 201, "", "available"}}},
		{"a break period of 0 breaks at once", []step{
			{"acquire", a, "60", 201, "", "leased"}, {"break", "", "0", 202, "", "broken"}, {"acquire", b, "15", 201, "", "leased"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newBlobWorld(t)
			if got := w.put(t, "lease"); got.status != 201 {
				t.Fatalf("create: %d %s", got.status, got.code)
			}
			for i, s := range tt.steps {
				var got answer
				h := []string{}
				if s.id != "" {
					h = append(h, "x-ms-lease-id: "+s.id)
				}
				switch s.op {
				case "expire":
					w.cloud(t, func(c *Cloud) { c.ExpireLeases() })
				case "write":
					got = w.put(t, "lease", h...)
				default:
					h = append(h, "x-ms-lease-action: "+s.op)
					switch s.op {
					case "acquire":
						h = []string{"x-ms-lease-action: acquire", "x-ms-proposed-lease-id: " + s.id}
						if s.arg != "" {
							h = append(h, "x-ms-lease-duration: "+s.arg)
						}
					case "change":
						h = append(h, "x-ms-proposed-lease-id: "+s.arg)
					case "break":
						if s.arg != "" {
							h = append(h, "x-ms-lease-break-period: "+s.arg)
						}
					}
					got = w.lease(t, "lease", h...)
				}
				if s.op != "expire" && (got.status != s.status || got.code != s.code) {
					t.Fatalf("step %d (%s %s %s): got %d %s, want %d %s", i, s.op, s.id, s.arg, got.status, got.code, s.status, s.code)
				}
				if s.op == "acquire" && s.status == 201 && got.h.Get("x-ms-lease-id") != s.id {
					t.Fatalf("step %d: acquire answered lease id %q, want the proposed %s", i, got.h.Get("x-ms-lease-id"), s.id)
				}
				props := w.do(t, http.MethodHead, blobAccount, "/history/lease", "writer", "")
				if st := props.h.Get("x-ms-lease-state"); st != s.state {
					t.Fatalf("step %d (%s): lease state %q, want %q", i, s.op, st, s.state)
				}
			}
		})
	}
}

func TestBlobConditionalHeaders(t *testing.T) {
	w := newBlobWorld(t)
	first := w.put(t, "c")
	etag := first.h.Get("ETag")
	if first.status != 201 || etag == "" {
		t.Fatalf("create: %d, ETag %q", first.status, etag)
	}
	for _, tt := range []struct {
		name, method string
		headers      []string
		status       int
		code         string
	}{
		{"write If-None-Match * on a blob that exists", http.MethodPut, []string{"If-None-Match: *"}, 409, "BlobAlreadyExists"},
		{"write If-Match another ETag", http.MethodPut, []string{`If-Match: "0x1"`}, 412, "ConditionNotMet"},
		{"read If-Match another ETag", http.MethodGet, []string{`If-Match: "0x1"`}, 412, "ConditionNotMet"},
		{"read If-None-Match its ETag", http.MethodGet, []string{"If-None-Match: " + etag}, 304, "ConditionNotMet"},
		{"write If-Match its ETag", http.MethodPut, []string{"If-Match: " + etag}, 201, ""},
		{"write If-Match the ETag it had before", http.MethodPut, []string{"If-Match: " + etag}, 412, "ConditionNotMet"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got answer
			if tt.method == http.MethodPut {
				got = w.put(t, "c", tt.headers...)
			} else {
				got = w.do(t, tt.method, blobAccount, "/history/c", "writer", "", tt.headers...)
			}
			if got.status != tt.status || got.code != tt.code {
				t.Fatalf("got %d %s, want %d %s", got.status, got.code, tt.status, tt.code)
			}
		})
	}
	if got := w.put(t, "new", "If-Match: *"); got.status != 412 {
		t.Errorf("If-Match * on a blob that does not exist: got %d, want 412", got.status)
	}
	if got := w.put(t, "new", "If-None-Match: *"); got.status != 201 {
		t.Errorf("If-None-Match * on a blob that does not exist: got %d, want 201", got.status)
	}
}

func TestListBlobsPages(t *testing.T) {
	w := newBlobWorld(t)
	for _, n := range []string{"records/c", "records/a", "lease", "records/b"} {
		if got := w.put(t, n); got.status != 201 {
			t.Fatal(got.status)
		}
	}
	var names []string
	marker := ""
	for pages := 0; ; pages++ {
		got := w.do(t, http.MethodGet, blobAccount, "/history?restype=container&comp=list&prefix=records/&maxresults=2&marker="+marker, "writer", "")
		var res struct {
			Blobs      []struct{ Name string } `xml:"Blobs>Blob"`
			NextMarker string
		}
		if err := xml.Unmarshal([]byte(got.body), &res); err != nil {
			t.Fatalf("%v: %s", err, got.body)
		}
		for _, b := range res.Blobs {
			names = append(names, b.Name)
		}
		if marker = res.NextMarker; marker == "" || pages > 3 {
			break
		}
	}
	if strings.Join(names, " ") != "records/a records/b records/c" {
		t.Fatalf("got %v, want the prefix's blobs in name order over two pages", names)
	}
	if got := w.do(t, http.MethodGet, blobAccount, "/history?restype=container&comp=list", "other", ""); got.status != 403 {
		t.Errorf("listing without a role on the container: got %d, want 403", got.status)
	}
}
