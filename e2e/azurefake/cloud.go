package azurefake

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// Cloud is a test's Azure: the resources that exist, in which subscription, with the
// properties ARM would return for them. It lives in one JSON file shared by every provider
// process of a test (two users' stacks included), guarded by a lock file.
type Cloud struct {
	// Resources by lower-cased ARM id: ARM ids are case-insensitive.
	Resources map[string]*Resource `json:"resources"`
	// HostsDown lists function apps whose Functions host does not start, so the host-served
	// APIs (listWebAppHostKeys) fail as they do on Azure.
	HostsDown []string `json:"hostsDown,omitempty"`
	// HostStartCalls makes a new app's host answer its first this-many key requests as a host
	// that has not started yet does: keys lag a new app, and its identity's roles take time.
	HostStartCalls int `json:"hostStartCalls,omitempty"`
	// SlowMs makes every create and update take this long, as ARM's long-running operations
	// do, so a test can hold an update open.
	SlowMs int `json:"slowMs,omitempty"`
	// Hold makes every create and update of resources of this type token ("*": any) wait,
	// after setting Held, until a test clears Hold: an update held open by construction, so a
	// test that needs the stack locked never depends on how long an update takes.
	Hold string `json:"hold,omitempty"`
	// Held is set once an operation waits on Hold.
	Held bool `json:"held,omitempty"`
	// HeldBy is the process id of the provider whose operation waits on Hold, so a test that
	// kills the update can wait for that process to be gone before it lets go.
	HeldBy int `json:"heldBy,omitempty"`
	// SiteUpdateRestartMs models a Flex site update: every update of a function app restarts
	// its running instances (the default Recreate strategy), so its host does not answer for
	// this long (RestartedUntilMs), and the update's call notes the share of traffic the app
	// carried when it restarted.
	SiteUpdateRestartMs int `json:"siteUpdateRestartMs,omitempty"`
	// Throttle answers the ARM facade's next this-many writes with 429 and Retry-After, as ARM
	// throttles; azcore's retry policy retries them.
	Throttle int `json:"throttle,omitempty"`
	// Calls records every create, update, delete and invoke, for tests to read.
	Calls []Call `json:"calls,omitempty"`
	// ServicePrincipals are the tenant's service principals the stand-in knows, object id by
	// lower-cased client id: a provider signed in as one of them is authorized by its role
	// assignments (Fake.ClientID), as azure-native's calls are on Azure, and Entra issues
	// tokens only for a resource among them (IssueToken).
	ServicePrincipals map[string]string `json:"servicePrincipals,omitempty"`
	// Deployments are the last package pushed to each app's deployment host, by app name.
	Deployments map[string]*Deployment `json:"deployments,omitempty"`
	// Unregistered lists, by subscription, the resource provider namespaces not registered
	// there (every one is, unless a test says): a Flex Consumption app joining a subnet needs
	// Microsoft.App (network.go).
	Unregistered map[string][]string `json:"unregistered,omitempty"`
	// BuiltInAuthNotEnforced makes the function apps accept built-in authentication settings
	// and check nothing, as Flex Consumption's preview documented it (see apphost.go).
	BuiltInAuthNotEnforced bool `json:"builtInAuthNotEnforced,omitempty"`
	// EntraLags keeps each service principal created from then on out of token issuance until
	// the test calls Replicate (Unreplicated holds their client ids); see replication.go.
	EntraLags    bool     `json:"entraLags,omitempty"`
	Unreplicated []string `json:"unreplicated,omitempty"`
	// WatchUsers makes every successful create, update and delete record what a request through
	// API Management gets from each app right after it (UsersSaw); see userview.go.
	WatchUsers bool         `json:"watchUsers,omitempty"`
	UsersSaw   []UserAnswer `json:"usersSaw,omitempty"`
	// Blobs are the storage accounts' blobs, by account/container/name (BlobService).
	Blobs map[string]*Blob `json:"blobs,omitempty"`
}

// Resource is one resource as ARM holds it.
type Resource struct {
	ID           string `json:"id"`
	Token        string `json:"token"`
	Subscription string `json:"subscription"`
	// Properties are the resource's outputs in the SDK's shape.
	Properties map[string]any `json:"properties"`
	// Inputs are what was last sent for it, in the SDK's shape: what the service validates.
	// (Outputs alone cannot tell everything: a backend's `type` output is the ARM resource
	// type, while its `type` input is Single or Pool.)
	Inputs map[string]any `json:"inputs"`
	// FunctionKey is a function app's default host key.
	FunctionKey string `json:"functionKey,omitempty"`
	// KeyCalls counts a function app's key requests, for HostStartCalls.
	KeyCalls int `json:"keyCalls,omitempty"`
	// Secret holds a secret named value's value, or a subscription's primary key, which ARM
	// never returns on GET; SecondaryKey a subscription's other key (subscription.go).
	Secret       string `json:"secret,omitempty"`
	SecondaryKey string `json:"secondaryKey,omitempty"`
	// RestartedUntilMs is when a function app restarted by a site update answers again (Unix
	// milliseconds); see Cloud.SiteUpdateRestartMs.
	RestartedUntilMs int64 `json:"restartedUntilMs,omitempty"`
}

// Name is the resource's name, the last segment of its id.
func (r *Resource) Name() string { return lastSegment(r.ID) }

// Call is one operation the provider carried out, or refused.
type Call struct {
	Op      string `json:"op"`
	Token   string `json:"token"`
	Target  string `json:"target,omitempty"`
	Preview bool   `json:"preview,omitempty"`
	Error   string `json:"error,omitempty"`
	// Note says what else the call did, e.g. which share of traffic a restarted app carried.
	Note string `json:"note,omitempty"`
}

// Share is the weight the pools of the cloud give the function app with this default host
// name, through the single backend whose URL points at it.
func (c *Cloud) Share(hostname string) int {
	share := 0
	for _, b := range c.ByType("azure-native:apimanagement:Backend") {
		u, _ := b.Inputs["url"].(string)
		if hostname == "" || !strings.EqualFold(backendHost(u), hostname) {
			continue
		}
		for _, p := range c.ByType("azure-native:apimanagement:Backend") {
			pool, _ := p.Inputs["pool"].(map[string]any)
			members, _ := pool["services"].([]any)
			for _, m := range members {
				mm, _ := m.(map[string]any)
				if id, _ := mm["id"].(string); strings.EqualFold(id, b.ID) {
					w, _ := mm["weight"].(float64)
					share += int(w)
				}
			}
		}
	}
	return share
}

// Get returns the resource with an id, matched case-insensitively.
func (c *Cloud) Get(id string) (*Resource, bool) {
	r, ok := c.Resources[strings.ToLower(id)]
	return r, ok
}

// Put stores a resource.
func (c *Cloud) Put(r *Resource) {
	if c.Resources == nil {
		c.Resources = map[string]*Resource{}
	}
	c.Resources[strings.ToLower(r.ID)] = r
}

// Delete removes a resource and everything under it, as deleting a resource group or an API
// Management service does.
func (c *Cloud) Delete(id string) {
	prefix := strings.ToLower(id) + "/"
	for k := range c.Resources {
		if k == strings.ToLower(id) || strings.HasPrefix(k, prefix) {
			delete(c.Resources, k)
		}
	}
}

// ByType lists the resources of one type token, sorted by id.
func (c *Cloud) ByType(token string) []*Resource {
	var out []*Resource
	for _, r := range c.Resources {
		if r.Token == token {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// HostDown reports whether a function app's host is down.
func (c *Cloud) HostDown(app string) bool {
	for _, a := range c.HostsDown {
		if strings.EqualFold(a, app) {
			return true
		}
	}
	return false
}

// Store is the file a Cloud lives in.
type Store struct{ Path string }

// Update runs fn on the cloud under the lock and saves what it leaves, even when fn fails,
// so a refused call is still recorded.
func (s Store) Update(fn func(*Cloud) error) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	c, err := s.read()
	if err != nil {
		return err
	}
	fnErr := fn(c)
	if err := s.write(c); err != nil {
		return errors.Join(fnErr, err)
	}
	return fnErr
}

// Load reads the cloud under the lock.
func (s Store) Load() (*Cloud, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.read()
}

func (s Store) lock() (func(), error) {
	f, err := os.OpenFile(s.Path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cloud lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("cloud lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func (s Store) read() (*Cloud, error) {
	c := &Cloud{Resources: map[string]*Resource{}}
	raw, err := os.ReadFile(s.Path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read cloud: %w", err)
	}
	if len(raw) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(raw, c); err != nil {
		return nil, fmt.Errorf("parse cloud %s: %w", s.Path, err)
	}
	if c.Resources == nil {
		c.Resources = map[string]*Resource{}
	}
	return c, nil
}

func (s Store) write(c *Cloud) error {
	raw, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("render cloud: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.Path), ".cloud-*")
	if err != nil {
		return fmt.Errorf("write cloud: %w", err)
	}
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return fmt.Errorf("write cloud: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write cloud: %w", err)
	}
	return os.Rename(tmp.Name(), s.Path)
}
