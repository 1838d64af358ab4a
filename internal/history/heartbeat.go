package history

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
)

// Heartbeat is what the watcher leaves after every tick, whatever the tick found: a healthy
// tick writes no history entry (its trace is the cursor), so without it nobody could tell a
// watcher that runs and finds nothing from one that stopped. `slotless status` shows it, and
// `slotless release` reads it to tell whether the watcher runs its own version.
type Heartbeat struct {
	// Version is the slotless the watcher ran.
	Version string `json:"version"`
	// At is when the tick began, Took how long it ran.
	At     time.Time `json:"at"`
	TookMs int64     `json:"tookMs"`
	// PeriodSeconds is the schedule's period the tick ran under: how often the next is due.
	PeriodSeconds int `json:"periodSeconds"`
	// Outcome is the tick's (skipped, no-lease, judged), Found what it found, in a line.
	Outcome string `json:"outcome"`
	Found   string `json:"found,omitempty"`
	// Cursor is where the watcher's cursor stood when the tick ended.
	Cursor time.Time `json:"cursor,omitzero"`
}

// heartbeatBlob is the blob of a named heartbeat.
func heartbeatBlob(name string) (string, error) {
	if !cursorNameRE.MatchString(name) {
		return "", fmt.Errorf("heartbeat name %q: want lower-case letters, digits and dashes (at most 63)", name)
	}
	return "heartbeats/" + name + ".json", nil
}

// PutHeartbeat writes the named heartbeat, the last write standing: each tick's replaces the
// one before, unconditionally, since only the newest matters.
func (s *Store) PutHeartbeat(ctx context.Context, name string, h Heartbeat) error {
	b, err := heartbeatBlob(name)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(h)
	if err != nil {
		return err
	}
	_, err = s.container.NewBlockBlobClient(b).UploadBuffer(ctx, raw, &blockblob.UploadBufferOptions{
		HTTPHeaders: &blob.HTTPHeaders{BlobContentType: to.Ptr("application/json")},
	})
	if err != nil {
		return fmt.Errorf("write heartbeat %s to %s: %w", name, s.url, err)
	}
	return nil
}

// Heartbeat reads the named heartbeat; found is false when none was ever written.
func (s *Store) Heartbeat(ctx context.Context, name string) (h Heartbeat, found bool, err error) {
	b, err := heartbeatBlob(name)
	if err != nil {
		return Heartbeat{}, false, err
	}
	raw, _, err := s.download(ctx, b, nil)
	if bloberror.HasCode(err, bloberror.BlobNotFound) {
		return Heartbeat{}, false, nil
	}
	if err != nil {
		return Heartbeat{}, false, fmt.Errorf("read heartbeat %s in %s: %w", name, s.url, err)
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return Heartbeat{}, false, fmt.Errorf("heartbeat %s in %s: %w", name, s.url, err)
	}
	return h, true, nil
}
