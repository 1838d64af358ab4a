// Package report turns a release's run record (slotless release --json) into a picture: a
// self-contained HTML page with inline SVG charts, and Markdown for CI job summaries. Both lead
// with one sentence saying how the release ended and why.
package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/slotless/slotless/internal/rollout"
)

// ErrBadRecord is wrapped by every error about a record that cannot be reported.
var ErrBadRecord = errors.New("not a record slotless can report")

// Load reads a run record. It refuses, naming why, input that is empty, is not JSON, is JSON
// but not a slotless run record, or was written by a newer slotless whose record this one
// cannot read. A record from before records carried their kind (schema version 0) is read when
// it has a record's fields.
func Load(r io.Reader) (rollout.Record, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return rollout.Record{}, fmt.Errorf("read the record: %w", err)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return rollout.Record{}, fmt.Errorf("%w: the record is empty (did the release write its --json record to this file?)", ErrBadRecord)
	}
	var head struct {
		Kind          *string          `json:"kind"`
		SchemaVersion int              `json:"schemaVersion"`
		Outcome       *string          `json:"outcome"`
		Steps         *json.RawMessage `json:"stepRecords"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return rollout.Record{}, fmt.Errorf("%w: not a JSON object: %v", ErrBadRecord, err)
	}
	switch {
	case head.Kind == nil && (head.Outcome == nil || head.Steps == nil):
		return rollout.Record{}, fmt.Errorf("%w: it has no \"kind\": %q (want the --json record of slotless release or watch)", ErrBadRecord, rollout.RecordKind)
	case head.Kind != nil && *head.Kind != rollout.RecordKind:
		return rollout.Record{}, fmt.Errorf("%w: its kind is %q, want %q (the --json record of slotless release or watch)", ErrBadRecord, *head.Kind, rollout.RecordKind)
	case head.SchemaVersion > rollout.RecordSchemaVersion:
		return rollout.Record{}, fmt.Errorf("%w: it was written by a newer slotless (record schema version %d; this slotless reads up to %d): upgrade slotless to report it", ErrBadRecord, head.SchemaVersion, rollout.RecordSchemaVersion)
	case head.SchemaVersion < 0:
		return rollout.Record{}, fmt.Errorf("%w: record schema version %d: want 0..%d", ErrBadRecord, head.SchemaVersion, rollout.RecordSchemaVersion)
	}
	var rec rollout.Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return rollout.Record{}, fmt.Errorf("%w: a field has the wrong type: %v", ErrBadRecord, err)
	}
	if rec.Started.IsZero() || rec.Outcome == "" {
		return rollout.Record{}, fmt.Errorf("%w: it has no start time or outcome", ErrBadRecord)
	}
	return rec, nil
}
