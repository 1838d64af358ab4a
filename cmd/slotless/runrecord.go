package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/slotless/slotless/internal/apiurl"
	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

// checkEndpoints validates the --api-url and --logs-endpoint that release and watch share. The
// logs endpoint gets an Entra token, which the Log Analytics client sends over https only
// (azcore's bearer token policy refuses plain http).
func checkEndpoints(command, apiURL, logsEndpoint string) error {
	if apiURL != "" {
		if err := apiurl.CheckAPI(apiurl.SourceFlag, apiURL); err != nil {
			return usagef("%s: %v", command, err)
		}
	}
	if logsEndpoint != "" && !absoluteHTTP(logsEndpoint) {
		return usagef("%s: --logs-endpoint: %q is not an absolute http or https URL", command, logsEndpoint)
	}
	return nil
}

// loadStackConfig reads and validates the stack config from Pulumi.yaml and
// Pulumi.<stack>.yaml in dir.
func loadStackConfig(dir, stackName string) (plan.StackConfig, *stack.Config, error) {
	cfg, err := plan.LoadConfig(dir, stackName)
	if err != nil {
		return plan.StackConfig{}, nil, err
	}
	parsed, err := stack.Parse(cfg.Source())
	if err != nil {
		return plan.StackConfig{}, nil, fmt.Errorf("invalid stack config:\n%w", err)
	}
	return cfg, parsed, nil
}

// progressOut is where a run's progress goes: stderr with --json, so stdout carries the record
// alone and a pipeline can redirect it to a file.
func progressOut(cmd *cobra.Command, asJSON bool) io.Writer {
	if asJSON {
		return cmd.ErrOrStderr()
	}
	return cmd.OutOrStdout()
}

// writeRecord prints rec as JSON on stdout when asJSON, and returns the run's error joined with
// any error writing it.
func writeRecord(cmd *cobra.Command, asJSON bool, rec rollout.Record, err error) error {
	if !asJSON {
		return err
	}
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if jerr := enc.Encode(rec); jerr != nil {
		return errors.Join(err, fmt.Errorf("write the record: %w", jerr))
	}
	return err
}
