package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
)

// ErrCursorMoved is a cursor another run advanced since it was read: the caller's window was
// judged by someone else, so it must read the cursor again rather than judge it twice.
var ErrCursorMoved = errors.New("the cursor moved since it was read")

// Cursor is the end of the last metrics window the watcher judged, so a late or missed run
// judges the gap instead of leaving telemetry nobody judged. The etag is the blob's as read,
// so advancing it is conditional on nobody having moved it since.
type Cursor struct {
	At time.Time
	// Mark is what the cursor's owner saw beside it and Stood when it counts that from: the
	// watcher's, the pool's setting (weights, current-slot-name and record) and the instant it
	// counts the canary's weight as standing from. AdvanceCursor writes the ones c carries.
	Mark  string
	Stood time.Time
	etag  azcore.ETag
	// name is the cursor's, so the value Cursor returned is all AdvanceCursor needs.
	name string
}

var cursorNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

func cursorBlob(name string) (string, error) {
	if !cursorNameRE.MatchString(name) {
		return "", fmt.Errorf("cursor name %q: want lower-case letters, digits and dashes (at most 63)", name)
	}
	return "cursors/" + name + ".json", nil
}

type cursorBody struct {
	At    time.Time `json:"at"`
	Mark  string    `json:"mark,omitempty"`
	Stood time.Time `json:"stood,omitzero"`
}

// Cursor reads the named cursor; its At is zero when it was never advanced.
func (s *Store) Cursor(ctx context.Context, name string) (Cursor, error) {
	b, err := cursorBlob(name)
	if err != nil {
		return Cursor{}, err
	}
	raw, etag, err := s.download(ctx, b, nil)
	if bloberror.HasCode(err, bloberror.BlobNotFound) {
		return Cursor{name: name}, nil
	}
	if err != nil {
		return Cursor{}, fmt.Errorf("read cursor %s in %s: %w", name, s.url, err)
	}
	var body cursorBody
	if err := json.Unmarshal(raw, &body); err != nil {
		return Cursor{}, fmt.Errorf("cursor %s in %s: %w", name, s.url, err)
	}
	return Cursor{At: body.At, Mark: body.Mark, Stood: body.Stood, etag: etag, name: name}, nil
}

// AdvanceCursor moves the cursor c (as Cursor read it) to to, with c's Mark and Stood, only if
// nobody moved it since (If-Match on its ETag; If-None-Match: * for a cursor never written):
// else ErrCursorMoved. A cursor never goes back.
func (s *Store) AdvanceCursor(ctx context.Context, c Cursor, to time.Time) error {
	name := c.name
	b, err := cursorBlob(name)
	if err != nil {
		return err
	}
	if to.Before(c.At) {
		return fmt.Errorf("cursor %s: %s is before %s: a cursor never goes back", name, to.UTC().Format(time.RFC3339), c.At.UTC().Format(time.RFC3339))
	}
	cond := &blob.ModifiedAccessConditions{IfMatch: &c.etag}
	if c.etag == "" {
		cond = &blob.ModifiedAccessConditions{IfNoneMatch: ptr(azcore.ETagAny)}
	}
	body := cursorBody{At: to.UTC(), Mark: c.Mark}
	if !c.Stood.IsZero() {
		body.Stood = c.Stood.UTC()
	}
	raw, _ := json.Marshal(body)
	_, err = s.container.NewBlockBlobClient(b).UploadBuffer(ctx, raw, &blockblob.UploadBufferOptions{
		HTTPHeaders:      &blob.HTTPHeaders{BlobContentType: ptr("application/json")},
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: cond},
	})
	if bloberror.HasCode(err, bloberror.ConditionNotMet, bloberror.BlobAlreadyExists) {
		return fmt.Errorf("advance cursor %s to %s: %w", name, to.UTC().Format(time.RFC3339), ErrCursorMoved)
	}
	if err != nil {
		return fmt.Errorf("advance cursor %s in %s: %w", name, s.url, err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
