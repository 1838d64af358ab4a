package watcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/slotless/slotless/internal/history"
	"github.com/slotless/slotless/internal/report"
	"github.com/slotless/slotless/internal/rollout"
)

// CursorName is the watcher's cursor in the stack's history container.
const CursorName = "watcher"

// HistoryStore is Store over the stack's history container (internal/history): the stack's
// lease, the watcher's cursor and its entries.
type HistoryStore struct {
	S     *history.Store
	Stack string
}

// Acquire takes the stack's lease.
func (h HistoryStore) Acquire(ctx context.Context, who Holder, d time.Duration) (func(context.Context) error, error) {
	l, err := h.S.Acquire(ctx, history.Holder{Kind: history.HolderWatcher, ID: who.ID, By: who.By, Since: who.Since}, d)
	var held *history.HeldError
	if errors.As(err, &held) {
		return nil, &HeldError{Holder: Holder{Kind: held.Holder.Kind, ID: held.Holder.ID, By: held.Holder.By, Since: held.Holder.Since}}
	}
	if err != nil {
		return nil, err
	}
	return l.Release, nil
}

// Cursor reads the watcher's cursor.
func (h HistoryStore) Cursor(ctx context.Context) (Cursor, func(context.Context, Cursor) error, error) {
	c, err := h.S.Cursor(ctx, CursorName)
	if err != nil {
		return Cursor{}, nil, err
	}
	return Cursor{At: c.At, Mark: c.Mark, Stood: c.Stood}, func(ctx context.Context, to Cursor) error {
		c.Mark, c.Stood = to.Mark, to.Stood
		return h.S.AdvanceCursor(ctx, c, to.At)
	}, nil
}

// Put writes the tick's record as a history entry of kind watcher, its reason the report's
// headline.
func (h HistoryStore) Put(ctx context.Context, rec rollout.Record, by string) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	headline, _ := report.Headline(rec)
	if rec.Unjudged != nil {
		headline += "; not judged: the arrivals from " + rec.Unjudged.From.UTC().Format(time.RFC3339) + " to " + rec.Unjudged.To.UTC().Format(time.RFC3339)
	}
	return h.S.Put(ctx, history.Entry{
		ID: history.NewID(history.HolderWatcher, rec.Started), Kind: history.HolderWatcher,
		Started: rec.Started, Finished: rec.Finished, By: by, Stack: h.Stack,
		Slot: string(rec.Slot), Version: rec.Version, Outcome: string(rec.Outcome), Reason: headline, Record: raw,
	})
}

// Judged reads the holder's history entry (the lease names it by its id) and returns where its
// record's analyses judged the arrivals to; zero when it records none yet.
func (h HistoryStore) Judged(ctx context.Context, who Holder) (time.Time, error) {
	e, err := h.S.Get(ctx, who.ID)
	if err != nil {
		return time.Time{}, err
	}
	var rec rollout.Record
	if len(e.Record) == 0 {
		return time.Time{}, nil
	}
	if err := json.Unmarshal(e.Record, &rec); err != nil {
		return time.Time{}, fmt.Errorf("history entry %s: its record: %w", who.ID, err)
	}
	return rec.JudgedTo(), nil
}

// Beat writes the tick's heartbeat (HeartbeatName).
func (h HistoryStore) Beat(ctx context.Context, hb history.Heartbeat) error {
	return h.S.PutHeartbeat(ctx, HeartbeatName, hb)
}
