package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/internal/release"
	"github.com/slotless/slotless/stack"
)

// openStack is how release commands reach Pulumi; tests replace it.
var openStack = func(ctx context.Context, dir, name string) (release.Stack, error) {
	return release.OpenStack(ctx, dir, name)
}

// releaseCmd runs shift, promote and rollback: promote is a shift to 100, rollback a shift to 0.
func releaseCmd(name string, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	stackName := fs.String("stack", "dev", "stack to change")
	dir := fs.String("dir", ".", "project directory holding Pulumi.yaml")
	slotFlag := fs.String("slot", "", "the slot whose share changes: green or blue")
	to := fs.Int("to", -1, "shift: the slot's new share of traffic, 0..100")
	force := fs.Bool("force", false, "lift the step limit and skip the health gate")
	writeOnly := fs.Bool("write-only", false, "only edit Pulumi.<stack>.yaml, for GitOps; do not run pulumi up")
	apiURL := fs.String("api-url", os.Getenv("SLOTLESS_API_URL"), "the API's URL (stack output apiUrl), for the health gate through APIM")
	healthURL := fs.String("url", "", "a full health URL, overriding --api-url")
	healthTimeout := fs.Duration("health-timeout", 5*time.Minute, "how long the health gate may take")
	if err := fs.Parse(args); err != nil {
		return usageError{fmt.Sprintf("%s: %v", name, err)}
	}
	slot, err := stack.ParseSlot(*slotFlag)
	if err != nil {
		return usageError{fmt.Sprintf("%s: --slot: %v", name, err)}
	}
	switch name {
	case "promote":
		*to = 100
	case "rollback":
		*to = 0
	default:
		if *to < 0 || *to > 100 {
			return usageError{fmt.Sprintf("shift: --to: %d is out of range 0..100 (and required)", *to)}
		}
	}

	cfg, err := plan.LoadConfig(*dir, *stackName)
	if err != nil {
		return err
	}
	parsed, err := stack.Parse(cfg.Source())
	if err != nil {
		return fmt.Errorf("invalid stack config:\n%w", err)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	stackFile := "Pulumi." + *stackName + ".yaml"
	req := release.ShiftRequest{
		Slot: slot, To: *to, Force: *force, WriteOnly: *writeOnly, MaxStep: parsed.MaxStep,
		History: func() (stack.Slot, bool) { return release.OriginFromGit(*dir, "HEAD", stackFile) },
	}
	if h, err := healthGate(*apiURL, *healthURL, *healthTimeout, stdout); err != nil {
		return err
	} else if h != nil {
		req.Health = h
	}

	var st release.Stack
	if *writeOnly {
		st = release.FileStack{Path: filepath.Join(*dir, stackFile)}
	} else if st, err = openStack(ctx, *dir, *stackName); err != nil {
		return err
	}
	_, err = release.Shift(ctx, st, req, stdout)
	return err
}

// healthGate builds the health check an advance must pass, or nil when no target is given.
func healthGate(apiURL, url string, timeout time.Duration, progress io.Writer) (release.HealthCheck, error) {
	if apiURL == "" && url == "" {
		return nil, nil
	}
	headers := map[string]string{}
	if url == "" {
		token := os.Getenv("SLOTLESS_PIN_TOKEN")
		if token == "" {
			return nil, usageError{"the health gate through APIM needs the pinning token in SLOTLESS_PIN_TOKEN (stack config pinToken)"}
		}
		url = strings.TrimSuffix(apiURL, "/") + "/health"
		headers["X-Slotless-Token"] = token
	}
	if key := os.Getenv("SLOTLESS_SUBSCRIPTION_KEY"); key != "" {
		headers["Ocp-Apim-Subscription-Key"] = key
	}
	if key := os.Getenv("SLOTLESS_FUNCTION_KEY"); key != "" {
		headers["x-functions-key"] = key
	}
	return func(ctx context.Context, slot stack.Slot) error {
		h := map[string]string{"X-Slotless-Slot": string(slot)}
		for k, v := range headers {
			h[k] = v
		}
		_, err := gate.Health(ctx, gate.HealthConfig{URL: url, Headers: h, Slot: string(slot), Timeout: timeout}, progress)
		return err
	}, nil
}
