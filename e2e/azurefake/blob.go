package azurefake

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// BlobHostSuffix is the domain of the storage accounts' blob endpoints,
// <account>.blob.core.windows.net.
const BlobHostSuffix = ".blob.core.windows.net"

// BlobService is the Blob service's data plane for the cloud's storage accounts, reached at
// https://<account>.blob.core.windows.net/ through AppProxy as the apps' own hosts are. It
// serves the block-blob operations slotless's history makes with azblob v1.8.3, over the same
// cloud file as everything else (Cloud.Blobs). What it mirrors, inconvenient behaviours first:
//
//   - Authorization (MicrosoftDocs azure-docs, storage/blobs/authorize-access-azure-active-
//     directory.md; storage/common/shared-key-authorization-prevent.md;
//     storage/blobs/anonymous-read-access-prevent.md): a bearer token is either one the
//     tenant issued for Azure Storage (aud https://storage.azure.com, the scope azblob asks for,
//     azblob internal/shared.TokenScope) or a token in Principals; anything else is 401
//     InvalidAuthenticationInfo. The caller's principal must hold the operation's data action
//     at the blob or above (AuthorizeData: 403 AuthorizationPermissionMismatch), so Owner,
//     Contributor and the deploying identity are refused. A Shared Key or SAS request to an
//     account with allowSharedKeyAccess false is 403 KeyBasedAuthenticationNotPermitted; an
//     anonymous one to an account with allowBlobPublicAccess false is 409
//     PublicAccessNotPermitted.
//   - Conditional headers (REST "Specifying conditional headers for Blob service
//     operations"): If-Match (an ETag or *) and If-None-Match on writes answer 412
//     ConditionNotMet when they fail, but If-None-Match: * on a blob that exists answers 409
//     BlobAlreadyExists; on reads a failed If-Match is 412 and a matching If-None-Match 304.
//   - Lease Blob (REST "Lease Blob", its tables "Outcomes of lease operations on blobs by lease
//     state" and "Outcomes of use attempts on blobs by lease state"): acquire (x-ms-lease-
//     duration -1 or 15..60, else 400; an optional proposed GUID id) on an available, expired
//     or broken lease, or on a leased one with its own id; 409 LeaseAlreadyPresent on one leased
//     with another id, 409 LeaseIsBreakingAndCannotBeAcquired while breaking; renew with the
//     lease's id, an expired lease included unless the blob was written since, else 409
//     LeaseIdMismatchWithLeaseOperation (after a release too: "You can no longer renew a lease
//     after releasing it"), 409 LeaseIsBrokenAndCannotBeRenewed when broken or breaking;
//     change; release (409 LeaseNotPresentWithLeaseOperation when there is none, 409
//     LeaseIdMismatchWithLeaseOperation with another id); break (any caller, no id: a period 0
//     or an infinite lease breaks at once, else it is breaking). A write (Put Blob, Set Blob
//     Metadata) to a leased or breaking blob needs its lease id: 412 LeaseIdMissing without
//     one, 412 LeaseIdMismatchWithBlobOperation with another (the use table says 409 for a
//     leased blob, the error code list 412; the stand-in answers 412 and the client treats
//     both as refusals); a lease id on a write to a blob without an active lease is 412
//     LeaseNotPresentWithBlobOperation (LeaseLost when it is that blob's expired lease). A
//     write without an id to an expired or broken lease ends it (available).
//   - Time never ends a lease here: a fixed lease expires, and a breaking one is broken, when
//     the test says so (Cloud.ExpireLeases), never after a duration the test waits for.
//
// Not modelled: page and append blobs, blocks (Put Block/Put Block List: azblob's
// UploadBuffer sends one Put Blob below 256 MiB), snapshots, versions, tags, soft delete,
// container leases, Delete Blob, ranges, SAS validation, the minutes a role assignment takes to
// apply, and throttling.
type BlobService struct {
	Store *Store
	// Principals maps bearer tokens the tenant did not sign (the engine suite's scripted
	// az CLI tokens) to the principal each stands for.
	Principals map[string]string
}

// Blob is one blob as the Blob service holds it.
type Blob struct {
	Content      []byte            `json:"content"`
	ContentType  string            `json:"contentType,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
	ETag         string            `json:"etag"`
	Created      time.Time         `json:"created"`
	LastModified time.Time         `json:"lastModified"`
	Lease        BlobLease         `json:"lease"`
}

// BlobLease is a blob's lease: its state (available, leased, expired, breaking, broken), its
// id while one is kept ("Once a lease has expired, the lease ID is maintained by the Blob
// service until the blob is modified or leased again"), and its duration in seconds (-1
// infinite).
type BlobLease struct {
	State    string `json:"state,omitempty"`
	ID       string `json:"id,omitempty"`
	Duration int    `json:"duration,omitempty"`
}

// Lease states.
const (
	leaseAvailable = "available"
	leaseLeased    = "leased"
	leaseExpired   = "expired"
	leaseBreaking  = "breaking"
	leaseBroken    = "broken"
)

func (l BlobLease) state() string {
	if l.State == "" {
		return leaseAvailable
	}
	return l.State
}

// active is a lease that locks writes: leased or breaking.
func (l BlobLease) active() bool { return l.state() == leaseLeased || l.state() == leaseBreaking }

// blobKey is a blob's key in Cloud.Blobs: account/container/name, the account lower-cased.
func blobKey(account, container, name string) string {
	return strings.ToLower(account) + "/" + container + "/" + name
}

// ExpireLeases ends time for every lease: a fixed-duration lease expires and a breaking one is
// broken; infinite leases stay (Lease Blob: "Duration expires").
func (c *Cloud) ExpireLeases() {
	for _, b := range c.Blobs {
		switch {
		case b.Lease.state() == leaseLeased && b.Lease.Duration != -1:
			b.Lease.State = leaseExpired
		case b.Lease.state() == leaseBreaking:
			b.Lease.State = leaseBroken
		}
	}
}

// Blob is the blob at account/container/name, if it exists.
func (c *Cloud) Blob(account, container, name string) (*Blob, bool) {
	b, ok := c.Blobs[blobKey(account, container, name)]
	return b, ok
}

// Data actions of the operations served.
const (
	blobReadAction  = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
	blobWriteAction = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"
)

// storageError is the Blob service's error: its status, x-ms-error-code and XML body.
type storageError struct {
	status  int
	code    string
	message string
}

func (e *storageError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.message) }

func stErr(status int, code, format string, args ...any) *storageError {
	return &storageError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func writeStorageError(w http.ResponseWriter, r *http.Request, e *storageError) {
	w.Header().Set("x-ms-error-code", e.code)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(e.status)
	if r.Method == http.MethodHead {
		return
	}
	_, _ = fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, e.code, xmlEscape(e.message))
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// Knows reports whether host is the blob endpoint of an account in the cloud: any other name
// does not resolve, as an account that does not exist has no DNS name.
func (s BlobService) Knows(host string) bool {
	account, ok := strings.CutSuffix(strings.ToLower(host), BlobHostSuffix)
	if !ok {
		return false
	}
	c, err := s.Store.Load()
	if err != nil {
		return false
	}
	return accountNamed(c, account) != nil
}

func accountNamed(c *Cloud, account string) *Resource {
	for _, r := range c.ByType("azure-native:storage:StorageAccount") {
		if strings.EqualFold(r.Name(), account) {
			return r
		}
	}
	return nil
}

func containerNamed(c *Cloud, account, container string) *Resource {
	for _, r := range c.ByType("azure-native:storage:BlobContainer") {
		if strings.EqualFold(str(r.Inputs, "accountName"), account) && str(r.Inputs, "containerName") == container {
			return r
		}
	}
	return nil
}

// ServeHTTP implements http.Handler.
func (s BlobService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-ms-request-id", uuid.NewString())
	w.Header().Set("x-ms-version", r.Header.Get("x-ms-version"))
	w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
	host, _, _ := strings.Cut(r.Host, ":")
	account, _ := strings.CutSuffix(strings.ToLower(host), BlobHostSuffix)
	container, name, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
	}
	var out func(w http.ResponseWriter)
	err := s.Store.Update(func(c *Cloud) error {
		var err error
		out, err = s.serve(c, r, account, container, name, body)
		return err
	})
	var se *storageError
	switch {
	case errors.As(err, &se):
		writeStorageError(w, r, se)
	case err != nil:
		writeStorageError(w, r, stErr(http.StatusInternalServerError, "InternalError", "%v", err))
	default:
		out(w)
	}
}

// serve decides one request on the cloud under its lock; out writes the answer.
func (s BlobService) serve(c *Cloud, r *http.Request, account, container, name string, body []byte) (out func(http.ResponseWriter), err error) {
	acct := accountNamed(c, account)
	if acct == nil {
		return nil, stErr(http.StatusNotFound, "ResourceNotFound", "The specified resource does not exist (no account %s).", account)
	}
	principal, err := s.authenticate(r, acct)
	if err != nil {
		return nil, err
	}
	cont := containerNamed(c, account, container)
	if cont == nil {
		return nil, stErr(http.StatusNotFound, "ContainerNotFound", "The specified container does not exist.")
	}
	q := r.URL.Query()
	op := r.Method + " " + q.Get("comp")
	if name == "" {
		if op != "GET list" || q.Get("restype") != "container" {
			return nil, stErr(http.StatusBadRequest, "UnsupportedHttpVerb", "the stand-in serves only List Blobs on a container, not %s", op)
		}
		if err := AuthorizeData(c, principal, blobReadAction, cont.ID); err != nil {
			return nil, toStorage(err)
		}
		return listBlobs(c, account, container, q)
	}
	scope := cont.ID + "/blobs/" + name
	action := blobWriteAction
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		action = blobReadAction
	}
	if err := AuthorizeData(c, principal, action, scope); err != nil {
		return nil, toStorage(err)
	}
	key := blobKey(account, container, name)
	b := c.Blobs[key]
	switch op {
	case "GET ", "HEAD ":
		return getBlob(r, b)
	case "PUT ":
		return putBlob(c, r, key, b, body)
	case "PUT metadata":
		return setMetadata(r, b)
	case "PUT lease":
		out, err := leaseBlob(r, b)
		c.Calls = append(c.Calls, Call{Op: "blob lease " + strings.ToLower(r.Header.Get("x-ms-lease-action")), Target: key, Error: errString(err)})
		return out, err
	}
	return nil, stErr(http.StatusBadRequest, "UnsupportedHttpVerb", "the stand-in does not serve %s on a blob", op)
}

// toStorage turns AuthorizeData's refusal into the Blob service's error.
func toStorage(err error) error {
	var ae *AzureError
	if errors.As(err, &ae) {
		return stErr(ae.Status, ae.Code, "%s", ae.Message)
	}
	return err
}

// authenticate is the caller's principal, or the Blob service's refusal.
func (s BlobService) authenticate(r *http.Request, acct *Resource) (string, error) {
	auth := r.Header.Get("Authorization")
	sharedKeyOff := acct.Inputs["allowSharedKeyAccess"] == false
	if strings.HasPrefix(auth, "SharedKey ") || r.URL.Query().Get("sig") != "" {
		if sharedKeyOff {
			return "", stErr(http.StatusForbidden, "KeyBasedAuthenticationNotPermitted", "Key based authentication is not permitted on this storage account.")
		}
		return "", stErr(http.StatusForbidden, "AuthenticationFailed", "the stand-in does not check shared keys or SAS: use a bearer token")
	}
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		if acct.Inputs["allowBlobPublicAccess"] == false {
			return "", stErr(http.StatusConflict, "PublicAccessNotPermitted", "Public access is not permitted on this storage account.")
		}
		return "", stErr(http.StatusNotFound, "ResourceNotFound", "The specified resource does not exist.")
	}
	if p, ok := s.Principals[token]; ok {
		return p, nil
	}
	if cl, ok := verifyToken(token); ok && isStorageAudience(cl.Aud) {
		return cl.Oid, nil
	}
	return "", stErr(http.StatusUnauthorized, "InvalidAuthenticationInfo", "Server failed to authenticate the request: the token is not the tenant's, has expired, or is not for Azure Storage.")
}

// isStorageAudience reports whether aud is Azure Storage's: https://storage.azure.com, with or
// without its trailing slash.
func isStorageAudience(aud string) bool {
	return strings.TrimSuffix(aud, "/") == "https://storage.azure.com"
}

// checkConditions applies If-Match and If-None-Match to a write of b (nil when the blob does not
// exist).
func checkWriteConditions(r *http.Request, b *Blob) error {
	if m := r.Header.Get("If-Match"); m != "" {
		if b == nil || (m != "*" && m != b.ETag) {
			return stErr(http.StatusPreconditionFailed, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met.")
		}
	}
	if m := r.Header.Get("If-None-Match"); m != "" && b != nil {
		if m == "*" {
			return stErr(http.StatusConflict, "BlobAlreadyExists", "The specified blob already exists.")
		}
		if m == b.ETag {
			return stErr(http.StatusPreconditionFailed, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met.")
		}
	}
	return nil
}

// checkWriteLease applies the blob's lease to a write carrying lid (x-ms-lease-id).
func checkWriteLease(b *Blob, lid string) error {
	if b == nil {
		if lid != "" {
			return stErr(http.StatusPreconditionFailed, "LeaseNotPresentWithBlobOperation", "There is currently no lease on the blob.")
		}
		return nil
	}
	l := b.Lease
	switch {
	case l.active() && lid == "":
		return stErr(http.StatusPreconditionFailed, "LeaseIdMissing", "There is currently a lease on the blob and no lease ID was specified in the request.")
	case l.active() && !strings.EqualFold(lid, l.ID):
		return stErr(http.StatusPreconditionFailed, "LeaseIdMismatchWithBlobOperation", "The lease ID specified did not match the lease ID for the blob.")
	case !l.active() && lid != "" && l.state() == leaseExpired && strings.EqualFold(lid, l.ID):
		return stErr(http.StatusPreconditionFailed, "LeaseLost", "A lease ID was specified, but the lease for the blob has expired.")
	case !l.active() && lid != "":
		return stErr(http.StatusPreconditionFailed, "LeaseNotPresentWithBlobOperation", "There is currently no lease on the blob.")
	}
	return nil
}

// written marks b changed: a new ETag and time; an expired or broken lease ends with its id,
// so it can no longer be renewed.
func written(b *Blob) {
	b.ETag = fmt.Sprintf("\"0x%X\"", time.Now().UnixNano())
	b.LastModified = time.Now().UTC()
	if !b.Lease.active() {
		b.Lease = BlobLease{State: leaseAvailable}
	}
}

func metadataOf(r *http.Request) map[string]string {
	md := map[string]string{}
	for k, v := range r.Header {
		if n, ok := strings.CutPrefix(strings.ToLower(k), "x-ms-meta-"); ok && len(v) > 0 {
			md[n] = v[0]
		}
	}
	return md
}

func putBlob(c *Cloud, r *http.Request, key string, b *Blob, body []byte) (func(http.ResponseWriter), error) {
	if t := r.Header.Get("x-ms-blob-type"); t != "BlockBlob" {
		return nil, stErr(http.StatusBadRequest, "InvalidHeaderValue", "x-ms-blob-type %q: the stand-in models block blobs only", t)
	}
	if err := checkWriteConditions(r, b); err != nil {
		return nil, err
	}
	if err := checkWriteLease(b, r.Header.Get("x-ms-lease-id")); err != nil {
		return nil, err
	}
	if b == nil {
		b = &Blob{Created: time.Now().UTC()}
		if c.Blobs == nil {
			c.Blobs = map[string]*Blob{}
		}
		c.Blobs[key] = b
	}
	// Put Blob replaces the content, properties and metadata; a lease it was written under
	// stays.
	b.Content, b.ContentType, b.Metadata = body, r.Header.Get("x-ms-blob-content-type"), metadataOf(r)
	written(b)
	c.Calls = append(c.Calls, Call{Op: "blob put", Target: key})
	etag, mod := b.ETag, b.LastModified
	return func(w http.ResponseWriter) {
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", mod.Format(http.TimeFormat))
		w.Header().Set("x-ms-request-server-encrypted", "true")
		w.WriteHeader(http.StatusCreated)
	}, nil
}

func setMetadata(r *http.Request, b *Blob) (func(http.ResponseWriter), error) {
	if b == nil {
		return nil, stErr(http.StatusNotFound, "BlobNotFound", "The specified blob does not exist.")
	}
	if err := checkWriteConditions(r, b); err != nil {
		return nil, err
	}
	if err := checkWriteLease(b, r.Header.Get("x-ms-lease-id")); err != nil {
		return nil, err
	}
	b.Metadata = metadataOf(r)
	written(b)
	etag, mod := b.ETag, b.LastModified
	return func(w http.ResponseWriter) {
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", mod.Format(http.TimeFormat))
		w.WriteHeader(http.StatusOK)
	}, nil
}

func getBlob(r *http.Request, b *Blob) (func(http.ResponseWriter), error) {
	if b == nil {
		return nil, stErr(http.StatusNotFound, "BlobNotFound", "The specified blob does not exist.")
	}
	if m := r.Header.Get("If-Match"); m != "" && m != "*" && m != b.ETag {
		return nil, stErr(http.StatusPreconditionFailed, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met.")
	}
	if lid := r.Header.Get("x-ms-lease-id"); lid != "" && (!b.Lease.active() || !strings.EqualFold(lid, b.Lease.ID)) {
		return nil, stErr(http.StatusPreconditionFailed, "LeaseIdMismatchWithBlobOperation", "The lease ID specified did not match the lease ID for the blob.")
	}
	cp := *b
	notModified := false
	if m := r.Header.Get("If-None-Match"); m != "" && (m == "*" || m == b.ETag) {
		notModified = true
	}
	return func(w http.ResponseWriter) {
		h := w.Header()
		h.Set("ETag", cp.ETag)
		h.Set("Last-Modified", cp.LastModified.Format(http.TimeFormat))
		if notModified {
			h.Set("x-ms-error-code", "ConditionNotMet")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("x-ms-creation-time", cp.Created.Format(http.TimeFormat))
		h.Set("x-ms-blob-type", "BlockBlob")
		if cp.ContentType != "" {
			h.Set("Content-Type", cp.ContentType)
		} else {
			h.Set("Content-Type", "application/octet-stream")
		}
		for k, v := range cp.Metadata {
			h.Set("x-ms-meta-"+k, v)
		}
		h.Set("x-ms-lease-state", cp.Lease.state())
		if cp.Lease.active() {
			h.Set("x-ms-lease-status", "locked")
		} else {
			h.Set("x-ms-lease-status", "unlocked")
		}
		if cp.Lease.state() == leaseLeased {
			if cp.Lease.Duration == -1 {
				h.Set("x-ms-lease-duration", "infinite")
			} else {
				h.Set("x-ms-lease-duration", "fixed")
			}
		}
		h.Set("Accept-Ranges", "bytes")
		if r.Method == http.MethodHead {
			h.Set("x-ms-content-length-hint", strconv.Itoa(len(cp.Content)))
			w.WriteHeader(http.StatusOK)
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(cp.Content)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(cp.Content)
	}, nil
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// leaseBlob is Lease Blob, by the REST page's tables.
func leaseBlob(r *http.Request, b *Blob) (func(http.ResponseWriter), error) {
	if b == nil {
		return nil, stErr(http.StatusNotFound, "BlobNotFound", "The specified blob does not exist.")
	}
	// Lease Blob takes the conditional headers too; If-None-Match: * is a plain failed condition
	// here, the blob being there.
	if m := r.Header.Get("If-Match"); m != "" && m != "*" && m != b.ETag {
		return nil, stErr(http.StatusPreconditionFailed, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met.")
	}
	if m := r.Header.Get("If-None-Match"); m != "" && (m == "*" || m == b.ETag) {
		return nil, stErr(http.StatusPreconditionFailed, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met.")
	}
	action := strings.ToLower(r.Header.Get("x-ms-lease-action"))
	lid, proposed := r.Header.Get("x-ms-lease-id"), r.Header.Get("x-ms-proposed-lease-id")
	if proposed != "" && !guidRE.MatchString(proposed) {
		return nil, stErr(http.StatusBadRequest, "InvalidHeaderValue", "x-ms-proposed-lease-id %q is not a GUID.", proposed)
	}
	if lid == "" && (action == "renew" || action == "change" || action == "release") {
		return nil, stErr(http.StatusBadRequest, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified: x-ms-lease-id.")
	}
	l := &b.Lease
	st := l.state()
	mine := lid != "" && strings.EqualFold(lid, l.ID)
	status, leaseTime := http.StatusOK, -1
	notPresent := stErr(http.StatusConflict, "LeaseNotPresentWithLeaseOperation", "There is currently no lease on the blob.")
	mismatch := stErr(http.StatusConflict, "LeaseIdMismatchWithLeaseOperation", "The lease ID specified did not match the lease ID for the blob.")
	switch action {
	case "acquire":
		d, err := strconv.Atoi(r.Header.Get("x-ms-lease-duration"))
		switch {
		case r.Header.Get("x-ms-lease-duration") == "":
			return nil, stErr(http.StatusBadRequest, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified: x-ms-lease-duration.")
		case err != nil || (d != -1 && (d < 15 || d > 60)):
			return nil, stErr(http.StatusBadRequest, "InvalidHeaderValue", "x-ms-lease-duration %q: want -1 or 15 to 60 seconds.", r.Header.Get("x-ms-lease-duration"))
		}
		if proposed == "" {
			proposed = uuid.NewString()
		}
		switch {
		case st == leaseBreaking:
			return nil, stErr(http.StatusConflict, "LeaseIsBreakingAndCannotBeAcquired", "There is already a breaking lease on the blob.")
		case st == leaseLeased && !strings.EqualFold(proposed, l.ID):
			return nil, stErr(http.StatusConflict, "LeaseAlreadyPresent", "There is already a lease present.")
		}
		*l = BlobLease{State: leaseLeased, ID: proposed, Duration: d}
		status = http.StatusCreated
	case "renew":
		switch {
		case !mine:
			return nil, mismatch
		case st == leaseBreaking || st == leaseBroken:
			return nil, stErr(http.StatusConflict, "LeaseIsBrokenAndCannotBeRenewed", "The lease has been broken and cannot be renewed.")
		}
		l.State = leaseLeased // leased, or expired and not written since (a write ends it)
	case "change":
		if !guidRE.MatchString(proposed) {
			return nil, stErr(http.StatusBadRequest, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified: x-ms-proposed-lease-id.")
		}
		switch {
		case st == leaseAvailable:
			return nil, notPresent
		case st == leaseBreaking:
			return nil, stErr(http.StatusConflict, "LeaseIsBreakingAndCannotBeChanged", "The lease ID matched, but the lease is currently in breaking state and cannot be changed.")
		case st != leaseLeased:
			return nil, notPresent
		case mine:
			l.ID = proposed
		case strings.EqualFold(proposed, l.ID):
			// (B) to (A) on a lease (A): already done.
		default:
			return nil, mismatch
		}
	case "release":
		switch {
		case st == leaseAvailable:
			return nil, notPresent
		case !mine:
			return nil, mismatch
		}
		*l = BlobLease{State: leaseAvailable}
	case "break":
		if st == leaseAvailable {
			return nil, notPresent
		}
		period := -1
		if p := r.Header.Get("x-ms-lease-break-period"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || n > 60 {
				return nil, stErr(http.StatusBadRequest, "InvalidHeaderValue", "x-ms-lease-break-period %q: want 0 to 60 seconds.", p)
			}
			period = n
		}
		switch {
		case st == leaseBroken || st == leaseExpired, period == 0, st == leaseLeased && l.Duration == -1 && period == -1:
			l.State, leaseTime = leaseBroken, 0
		default:
			// Breaking until the test ends time (ExpireLeases): the period, or what remains of a
			// fixed lease, which the stand-in does not count.
			l.State, leaseTime = leaseBreaking, max(period, 1)
		}
		status = http.StatusAccepted
	default:
		return nil, stErr(http.StatusBadRequest, "InvalidHeaderValue", "x-ms-lease-action %q: want acquire, renew, change, release or break.", action)
	}
	id, etag, mod := l.ID, b.ETag, b.LastModified
	return func(w http.ResponseWriter) {
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", mod.Format(http.TimeFormat))
		if action != "break" && action != "release" {
			w.Header().Set("x-ms-lease-id", id)
		}
		if leaseTime >= 0 {
			w.Header().Set("x-ms-lease-time", strconv.Itoa(leaseTime))
		}
		w.WriteHeader(status)
	}, nil
}

// listBlobs is List Blobs (flat): the container's blobs whose names start with prefix, in
// name order ("Blobs are listed in alphabetical order in the response body"), at most
// maxresults (5000 by default) from marker on, with NextMarker when more remain.
func listBlobs(c *Cloud, account, container string, q map[string][]string) (func(http.ResponseWriter), error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	prefix, marker := get("prefix"), get("marker")
	max := 5000
	if m := get("maxresults"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 1 {
			return nil, stErr(http.StatusBadRequest, "OutOfRangeQueryParameterValue", "maxresults %q: want a positive integer.", m)
		}
		max = min(n, 5000)
	}
	base := strings.ToLower(account) + "/" + container + "/"
	var names []string
	for k := range c.Blobs {
		if n, ok := strings.CutPrefix(k, base); ok && strings.HasPrefix(n, prefix) && n >= marker {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	next := ""
	if len(names) > max {
		next, names = names[max], names[:max]
	}
	type props struct {
		Created       string `xml:"Creation-Time"`
		LastModified  string `xml:"Last-Modified"`
		ETag          string `xml:"Etag"`
		ContentLength int    `xml:"Content-Length"`
		ContentType   string `xml:"Content-Type,omitempty"`
		BlobType      string `xml:"BlobType"`
		LeaseStatus   string `xml:"LeaseStatus"`
		LeaseState    string `xml:"LeaseState"`
	}
	type item struct {
		Name       string `xml:"Name"`
		Properties props  `xml:"Properties"`
	}
	type result struct {
		XMLName         xml.Name `xml:"EnumerationResults"`
		ServiceEndpoint string   `xml:"ServiceEndpoint,attr"`
		ContainerName   string   `xml:"ContainerName,attr"`
		Prefix          string   `xml:"Prefix"`
		Marker          string   `xml:"Marker,omitempty"`
		MaxResults      int      `xml:"MaxResults"`
		Blobs           []item   `xml:"Blobs>Blob"`
		NextMarker      string   `xml:"NextMarker"`
	}
	res := result{ServiceEndpoint: "https://" + account + BlobHostSuffix + "/", ContainerName: container, Prefix: prefix, Marker: marker, MaxResults: max, NextMarker: next}
	for _, n := range names {
		b := c.Blobs[base+n]
		status := "unlocked"
		if b.Lease.active() {
			status = "locked"
		}
		res.Blobs = append(res.Blobs, item{Name: n, Properties: props{
			Created: b.Created.Format(http.TimeFormat), LastModified: b.LastModified.Format(http.TimeFormat), ETag: b.ETag,
			ContentLength: len(b.Content), ContentType: b.ContentType, BlobType: "BlockBlob", LeaseStatus: status, LeaseState: b.Lease.state(),
		}})
	}
	raw, err := xml.Marshal(res)
	if err != nil {
		return nil, err
	}
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(xml.Header))
		_, _ = w.Write(raw)
	}, nil
}
