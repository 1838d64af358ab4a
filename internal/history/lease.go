package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/lease"
	"github.com/google/uuid"
)

// leaseBlob is the one blob whose lease is the stack's lease.
const leaseBlob = "lease"

// Lease durations Azure accepts for a blob lease: 15 to 60 seconds, or infinite (Lease Blob,
// x-ms-lease-duration: "-1 for a lease that never expires, or 15 to 60 seconds").
const (
	MinLease = 15 * time.Second
	MaxLease = 60 * time.Second
	// Infinite is a lease that never expires: only its holder's release or a break ends it.
	Infinite time.Duration = -1
)

// Holder kinds: who may hold the lease.
const (
	HolderRelease = "release"
	HolderShift   = "shift"
	HolderWatcher = "watcher"
)

// Holder is who holds the lease: written as the lease blob's content under the lease, so
// anyone who may read the container sees it (status, a waiting release).
type Holder struct {
	// Kind is release, shift or watcher; ID the run's history id; By who runs it.
	Kind  string    `json:"kind"`
	ID    string    `json:"id"`
	By    string    `json:"by"`
	Since time.Time `json:"since"`
}

func (h Holder) String() string {
	return fmt.Sprintf("%s %s by %s since %s", h.Kind, h.ID, h.By, h.Since.UTC().Format(time.RFC3339))
}

// HeldError is a lease another holder has.
type HeldError struct{ Holder Holder }

func (e *HeldError) Error() string { return "the stack's lease is held by " + e.Holder.String() }

// Lease is the stack's lease as its holder has it.
type Lease struct {
	client *lease.BlobClient
	store  *Store
	Holder Holder
	// ID is the lease id Azure knows it by.
	ID string
	// tick makes Keep's ticker; tests replace it with a channel they drive.
	tick func(every time.Duration) (<-chan time.Time, func())
}

// Acquire takes the stack's lease for d (MinLease..MaxLease, or Infinite), writing h as its
// holder. When another holds it, the error is a *HeldError naming them (Azure's 409
// LeaseAlreadyPresent).
func (s *Store) Acquire(ctx context.Context, h Holder, d time.Duration) (*Lease, error) {
	secs := int32(-1)
	if d != Infinite {
		if d < MinLease || d > MaxLease || d%time.Second != 0 {
			return nil, fmt.Errorf("lease duration %s: want whole seconds from %s to %s, or infinite", d, MinLease, MaxLease)
		}
		secs = int32(d / time.Second)
	}
	if h.Since.IsZero() {
		h.Since = time.Now().UTC()
	}
	b := s.container.NewBlockBlobClient(leaseBlob)
	// The blob must exist to be leased: create it empty unless it does (If-None-Match: *), so
	// creating never overwrites a holder.
	_, err := b.UploadBuffer(ctx, nil, &blockblob.UploadBufferOptions{
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: to.Ptr(azcore.ETagAny)}},
	})
	if err != nil && !bloberror.HasCode(err, bloberror.BlobAlreadyExists, bloberror.ConditionNotMet, bloberror.LeaseIDMissing) {
		return nil, fmt.Errorf("create the lease blob in %s: %w", s.url, err)
	}
	id := uuid.NewString()
	lc, err := lease.NewBlobClient(b, &lease.BlobClientOptions{LeaseID: &id})
	if err != nil {
		return nil, fmt.Errorf("lease client: %w", err)
	}
	if _, err := lc.AcquireLease(ctx, secs, nil); err != nil {
		if bloberror.HasCode(err, bloberror.LeaseAlreadyPresent) {
			other, ok, herr := s.Holder(ctx)
			if herr != nil || !ok {
				other = Holder{Kind: "unknown", ID: "?", By: "?"}
			}
			return nil, &HeldError{Holder: other}
		}
		return nil, fmt.Errorf("acquire the stack's lease in %s: %w", s.url, err)
	}
	l := &Lease{client: lc, store: s, Holder: h, ID: id, tick: realTicker}
	raw, _ := json.Marshal(h)
	// Written under the lease: a write to a leased blob needs its lease id.
	if _, err := b.UploadBuffer(ctx, raw, &blockblob.UploadBufferOptions{
		HTTPHeaders:      &blob.HTTPHeaders{BlobContentType: to.Ptr("application/json")},
		Metadata:         map[string]*string{"holderkind": to.Ptr(h.Kind)},
		AccessConditions: &blob.AccessConditions{LeaseAccessConditions: &blob.LeaseAccessConditions{LeaseID: &id}},
	}); err != nil {
		_ = l.Release(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("write the lease's holder in %s: %w", s.url, err)
	}
	return l, nil
}

// Holder is who holds the stack's lease now; ok is false when nobody does (never leased,
// released, expired or broken).
func (s *Store) Holder(ctx context.Context) (Holder, bool, error) {
	b := s.container.NewBlobClient(leaseBlob)
	props, err := b.GetProperties(ctx, nil)
	if bloberror.HasCode(err, bloberror.BlobNotFound) {
		return Holder{}, false, nil
	}
	if err != nil {
		return Holder{}, false, fmt.Errorf("read the stack's lease in %s: %w", s.url, err)
	}
	if props.LeaseState == nil || *props.LeaseState != lease.StateTypeLeased {
		return Holder{}, false, nil
	}
	raw, _, err := s.download(ctx, leaseBlob, nil)
	if err != nil {
		return Holder{}, true, fmt.Errorf("read the stack's lease holder in %s: %w", s.url, err)
	}
	var h Holder
	if len(raw) == 0 || json.Unmarshal(raw, &h) != nil {
		// Leased before its holder was written, or by something else: held, by whom unknown.
		return Holder{Kind: "unknown", ID: "?", By: "?"}, true, nil
	}
	return h, true, nil
}

// Renew extends the lease by its duration from now. A lease lost meanwhile (expired and taken
// by another, or broken) is an error naming the new holder when there is one.
func (l *Lease) Renew(ctx context.Context) error {
	if _, err := l.client.RenewLease(ctx, nil); err != nil {
		if h, ok, herr := l.store.Holder(ctx); herr == nil && ok && h != l.Holder {
			return fmt.Errorf("renew the stack's lease: lost it to %s: %w", h, err)
		}
		return fmt.Errorf("renew the stack's lease: %w", err)
	}
	return nil
}

// Release gives the lease up at once, so the next holder need not wait for it to expire.
// Releasing a lease already lost is not an error: it is not ours to give.
func (l *Lease) Release(ctx context.Context) error {
	if _, err := l.client.ReleaseLease(ctx, nil); err != nil {
		if bloberror.HasCode(err, bloberror.LeaseIDMismatchWithLeaseOperation, bloberror.LeaseNotPresentWithLeaseOperation) {
			return nil
		}
		return fmt.Errorf("release the stack's lease: %w", err)
	}
	return nil
}

// Keep renews the lease every interval in the background until stop is called: a holder whose
// process dies stops renewing, and its lease expires. stop ends the renewals (it does not
// release) and returns the first renewal that failed, joined with none when all succeeded.
func (l *Lease) Keep(ctx context.Context, every time.Duration) (stop func() error) {
	ctx, cancel := context.WithCancel(ctx)
	ticks, stopTicker := l.tick(every)
	var (
		mu    sync.Mutex
		first error
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		defer stopTicker()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticks:
				if err := l.Renew(ctx); err != nil && ctx.Err() == nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}
	}()
	var once sync.Once
	return func() error {
		once.Do(func() {
			cancel()
			<-done
		})
		mu.Lock()
		defer mu.Unlock()
		return first
	}
}

func realTicker(every time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(every)
	return t.C, t.Stop
}

// IsHeld reports whether err is a lease held by another, and by whom.
func IsHeld(err error) (Holder, bool) {
	var h *HeldError
	if errors.As(err, &h) {
		return h.Holder, true
	}
	return Holder{}, false
}
