package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/slotless/slotless/internal/history"
)

// historyOptions are the flags of slotless history.
type historyOptions struct {
	d          deps
	stack, dir string
	historyURL string
	asJSON     bool
	limit      int
}

const historyLong = `History lists the stack's runs as Azure keeps them, newest first: every release (and where a
release in flight stands), shift, promote, rollback, break-glass write and watcher run, with
when it started, its kind, who ran it (the command and the CI actor, or the watcher's
identity), the slot, the version, how it ended, and why: the same headline its report leads
with. Each run's whole record is kept too: slotless report --id <id> draws it.

The history lives in the container history of the stack's storage account (stack output
historyUrl), which only the release identity and the watcher may write. It is read with the
release's Azure credential, which needs a data role there (Storage Blob Data Reader or above).
With the Pulumi backend down, name the container with --history-url or SLOTLESS_HISTORY_URL.`

func newHistoryCmd(d deps) *cobra.Command {
	o := historyOptions{d: d}
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List the stack's releases, rollbacks and watcher runs, as its storage keeps them",
		Long:  historyLong,
		Example: `  slotless history --stack dev
  slotless history --stack dev --json --limit 5
  SLOTLESS_HISTORY_URL=https://storage1a2b3c4d.blob.core.windows.net/history slotless history`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), os.Getenv)
		},
	}
	f := cmd.Flags()
	stackFlags(cmd, &o.stack, &o.dir, "stack whose history to list")
	historyFlag(cmd, &o.historyURL)
	f.BoolVar(&o.asJSON, "json", false, "print the entries as JSON, without their records")
	f.IntVar(&o.limit, "limit", 20, "list at most this many of the newest runs (0: all)")
	return cmd
}

func (o historyOptions) run(ctx context.Context, stdout io.Writer, getenv func(string) string) error {
	if o.limit < 0 {
		return usagef("history: --limit: %d, want 0 (all) or more", o.limit)
	}
	s, err := o.d.openHistoryStore(ctx, o.dir, o.stack, o.historyURL, getenv)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	lctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	entries, err := s.List(lctx, o.limit)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if o.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if entries == nil {
			entries = []history.Entry{}
		}
		return enc.Encode(entries)
	}
	if len(entries) == 0 {
		fmt.Fprintf(stdout, "no runs recorded in %s yet\n", s.URL())
		return nil
	}
	return history.WriteTable(stdout, entries)
}
