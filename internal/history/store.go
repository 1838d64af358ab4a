// Package history is the stack's history as Azure keeps it: one blob per run's record in the
// container `history` of the stack's shared storage account, the lease that keeps a release and
// the in-Azure watcher from judging one canary at once, and the watcher's cursor. Records
// outlive CI artifacts and job summaries, and anyone allowed to read the container sees every
// release, shift, rollback, break-glass write and watcher run, and who holds the lease.
//
// Only the identities the stack names may write there (the release identity and the watcher's):
// see stack/history.go and docs/security.md.
package history

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// ContainerName is the blob container the stack creates for its history.
const ContainerName = "history"

// recordsPrefix is where the entries live, one blob each: records/<ID>.json.
const recordsPrefix = "records/"

// Kinds of entry.
const (
	KindRelease    = "release"
	KindShift      = "shift"
	KindPromote    = "promote"
	KindRollback   = "rollback"
	KindBreakGlass = "break-glass"
	KindWatcher    = "watcher"
)

// Kinds lists every kind of entry, for errors that name the allowed values.
var Kinds = []string{KindRelease, KindShift, KindPromote, KindRollback, KindBreakGlass, KindWatcher}

// ErrNotFound is an id the history does not hold.
var ErrNotFound = errors.New("no such entry in the history")

// Store is the history container of one stack.
type Store struct {
	container *container.Client
	url       string
}

// Open is the store in the container at containerURL
// (https://<account>.blob.core.windows.net/history), signed in with cred. Nothing is read until
// the first call, so opening never fails for an unreachable account.
func Open(containerURL string, cred azcore.TokenCredential, opts *azblob.ClientOptions) (*Store, error) {
	if !strings.HasPrefix(containerURL, "https://") {
		return nil, fmt.Errorf("history container URL %q: want https://<account>.blob.core.windows.net/%s", containerURL, ContainerName)
	}
	var copts *container.ClientOptions
	if opts != nil {
		copts = &container.ClientOptions{ClientOptions: opts.ClientOptions}
	}
	c, err := container.NewClient(strings.TrimSuffix(containerURL, "/"), cred, copts)
	if err != nil {
		return nil, fmt.Errorf("history container %s: %w", containerURL, err)
	}
	return &Store{container: c, url: strings.TrimSuffix(containerURL, "/")}, nil
}

// URL is the container's URL, for messages.
func (s *Store) URL() string { return s.url }

// Entry is one run's record: a release, shift, promote, rollback, break-glass write or watcher
// run.
type Entry struct {
	// ID is sortable and unique: "20261207T031500Z-release-3f9a1c2e" (NewID).
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Started and Finished bracket the run; Finished is zero while a release is in flight.
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	// By is who ran it: the command and the CI actor, or the watcher's identity.
	By      string `json:"by"`
	Stack   string `json:"stack"`
	Slot    string `json:"slot,omitempty"`
	Version string `json:"version,omitempty"`
	Outcome string `json:"outcome,omitempty"`
	// Reason is the report's headline (report.Headline): why the run ended as it did.
	Reason string `json:"reason,omitempty"`
	// InFlight is a release still running, or paused between runs (--until).
	InFlight bool `json:"inFlight,omitempty"`
	// Step is where a release in flight stands.
	Step *InFlight `json:"step,omitempty"`
	// Record is the whole run record (rollout.Record's JSON), as `slotless report` reads it.
	Record json.RawMessage `json:"record,omitempty"`
}

// InFlight is where a release in flight stands: its step and weight, its bake, and its last
// analysis.
type InFlight struct {
	// Step is the 1-based index of the step in Steps; Weight the canary's share there.
	Step   int   `json:"step"`
	Steps  []int `json:"steps,omitempty"`
	Weight int   `json:"weight"`
	// BakeStarted is when the step's bake began, Bake how long it lasts (zero: not baking).
	BakeStarted time.Time     `json:"bakeStarted,omitzero"`
	Bake        time.Duration `json:"bakeNs,omitempty"`
	// LastAnalysis is when the last analysis ran, Verdict what it said (pass, fail,
	// inconclusive, error) and Detail its one-line why.
	LastAnalysis time.Time `json:"lastAnalysis,omitzero"`
	Verdict      string    `json:"verdict,omitempty"`
	Detail       string    `json:"detail,omitempty"`
}

// idRE is the shape of an entry's id: a UTC timestamp, the kind, and eight hex digits.
var idRE = regexp.MustCompile(`^\d{8}T\d{6}Z-[a-z-]+-[0-9a-f]{8}$`)

// NewID is an id for an entry of kind started at t: sortable (by time, to the second), and
// unique (a random suffix), so two runs started in one second never share a blob.
func NewID(kind string, t time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102T150405Z") + "-" + kind + "-" + hex.EncodeToString(b[:])
}

// checkID refuses an id that is not NewID's shape: it names a blob, and nothing else may.
func checkID(id string) error {
	if !idRE.MatchString(id) {
		return fmt.Errorf("history id %q: want <yyyymmddThhmmssZ>-<kind>-<8 hex digits>, as `slotless history` lists them", id)
	}
	return nil
}

func blobName(id string) string { return recordsPrefix + id + ".json" }

// Put writes e as its own blob; an in-flight release writes its entry again at every step and
// analysis, the last write standing.
func (s *Store) Put(ctx context.Context, e Entry) error {
	if err := checkID(e.ID); err != nil {
		return err
	}
	if !slices.Contains(Kinds, e.Kind) {
		return fmt.Errorf("history entry %s: kind %q: want one of %s", e.ID, e.Kind, strings.Join(Kinds, ", "))
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("history entry %s: %w", e.ID, err)
	}
	_, err = s.container.NewBlockBlobClient(blobName(e.ID)).UploadBuffer(ctx, raw, &blockblob.UploadBufferOptions{
		HTTPHeaders: &blob.HTTPHeaders{BlobContentType: to.Ptr("application/json")},
	})
	if err != nil {
		return fmt.Errorf("write history entry %s to %s: %w", e.ID, s.url, err)
	}
	return nil
}

// Get reads one entry, its record included.
func (s *Store) Get(ctx context.Context, id string) (Entry, error) {
	if err := checkID(id); err != nil {
		return Entry{}, err
	}
	raw, _, err := s.download(ctx, blobName(id), nil)
	if bloberror.HasCode(err, bloberror.BlobNotFound) {
		return Entry{}, fmt.Errorf("%w: %s (in %s)", ErrNotFound, id, s.url)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("read history entry %s: %w", id, err)
	}
	var e Entry
	if err := json.Unmarshal(raw, &e); err != nil {
		return Entry{}, fmt.Errorf("history entry %s: %w", id, err)
	}
	return e, nil
}

// List is the newest limit entries (all when limit <= 0), newest first, without their records:
// ids sort by start time, so the newest are the last names in the listing.
func (s *Store) List(ctx context.Context, limit int) ([]Entry, error) {
	var ids []string
	// azblob is held at v1.7.0, whose List Blobs answers XML only: v1.8 adds an Apache Arrow
	// response format whose decoder (apache/arrow-go) grew the binary by 8 MB, a cost every
	// download and the watcher's package would pay for a listing of a few hundred names.
	pager := s.container.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: to.Ptr(recordsPrefix)})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the history in %s: %w", s.url, err)
		}
		for _, b := range page.Segment.BlobItems {
			if b.Name == nil {
				continue
			}
			id, ok := strings.CutSuffix(strings.TrimPrefix(*b.Name, recordsPrefix), ".json")
			if ok && checkID(id) == nil {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	if limit > 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]Entry, 0, len(ids))
	for _, id := range ids {
		e, err := s.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // deleted since the listing
		}
		if err != nil {
			return nil, err
		}
		e.Record = nil
		out = append(out, e)
	}
	return out, nil
}

// download reads a blob's content and its ETag.
func (s *Store) download(ctx context.Context, name string, opts *blob.DownloadStreamOptions) ([]byte, azcore.ETag, error) {
	resp, err := s.container.NewBlobClient(name).DownloadStream(ctx, opts)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, resp.Body); err != nil {
		return nil, "", fmt.Errorf("read %s: %w", name, err)
	}
	var etag azcore.ETag
	if resp.ETag != nil {
		etag = *resp.ETag
	}
	return buf.Bytes(), etag, nil
}
