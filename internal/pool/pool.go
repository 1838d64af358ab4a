// Package pool reads and writes the live API Management backend pool through ARM, with the
// Azure SDK for Go, outside Pulumi. Pulumi state says what the last update wrote; the pool as
// APIM holds it is what users' requests follow, and the two differ after a portal edit or a
// break-glass rollback. Status and rollback read it from here, and a rollback that cannot go
// through Pulumi writes it from here.
package pool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/apimanagement/armapimanagement/v3"

	"github.com/slotless/slotless/stack"
)

// Target names the traffic resources of one stack in API Management.
type Target struct {
	Subscription  string
	ResourceGroup string
	Service       string
	// PoolID is the pool's backend id; CurrentSlotID the current-slot-name named value's id.
	PoolID        string
	CurrentSlotID string
}

// PoolARMID is the pool's ARM resource id.
func (t Target) PoolARMID() string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ApiManagement/service/%s/backends/%s",
		t.Subscription, t.ResourceGroup, t.Service, t.PoolID)
}

// TargetFromPoolID reads a target from the pool's ARM id (the stack output poolId); the
// named value's id follows the pool's scoping (see stack.APIMIDs).
func TargetFromPoolID(id string) (Target, error) {
	p := strings.Split(strings.Trim(id, "/"), "/")
	if len(p) != 10 || !strings.EqualFold(p[0], "subscriptions") || !strings.EqualFold(p[2], "resourceGroups") ||
		!strings.EqualFold(p[5], "Microsoft.ApiManagement") || !strings.EqualFold(p[8], "backends") {
		return Target{}, fmt.Errorf("%q is not the ARM id of an API Management backend", id)
	}
	scope := strings.TrimSuffix(p[9], stack.PoolID)
	return Target{Subscription: p[1], ResourceGroup: p[3], Service: p[7], PoolID: p[9], CurrentSlotID: scope + stack.CurrentSlotNamedValue}, nil
}

// Live is the pool as API Management holds it.
type Live struct {
	Weights stack.Weights
	// CurrentSlotName is the current-slot-name named value's value.
	CurrentSlotName string
	// Description is the pool's description, where a break-glass write leaves its mark.
	Description string
	etag        string
}

// BreakGlassBy is who the pool's record names after a break-glass rollback (stack.PoolRecord),
// so status and the next update can tell that state and Azure differ on purpose.
const BreakGlassBy = "slotless rollback (break-glass, through ARM)"

// Record is the pool's record of who set its weights; ok is false when it has none.
func (l Live) Record() (stack.PoolRecord, bool) { return stack.ParsePoolRecord(l.Description) }

// MarkedByBreakGlass reports whether a break-glass write set the live pool's weights.
func (l Live) MarkedByBreakGlass() bool {
	r, ok := l.Record()
	return ok && r.By == BreakGlassBy
}

// Options configure the ARM client.
type Options struct {
	// Endpoint and Audience name a Resource Manager other than Azure's public cloud (a sovereign
	// cloud's); empty means management.azure.com.
	Endpoint, Audience string
	// Transport replaces the HTTP client, for tests.
	Transport policy.Transporter
	// PollEvery is how often a long-running operation is polled when ARM does not say
	// (Retry-After); zero means 2 s.
	PollEvery time.Duration
}

// ARMClientOptions are the Azure SDK options of any ARM client the release credential uses: the
// Resource Manager endpoint and audience of o (Azure's public cloud when empty), and its
// transport.
func ARMClientOptions(o Options) (*arm.ClientOptions, error) {
	opts := &arm.ClientOptions{}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("resource manager endpoint %q: want an absolute URL", o.Endpoint)
		}
		aud := o.Audience
		if aud == "" {
			aud = u.Scheme + "://" + u.Host
		}
		opts.Cloud = cloud.Configuration{
			ActiveDirectoryAuthorityHost: cloud.AzurePublic.ActiveDirectoryAuthorityHost,
			Services:                     map[cloud.ServiceName]cloud.ServiceConfiguration{cloud.ResourceManager: {Endpoint: o.Endpoint, Audience: aud}},
		}
	}
	if o.Transport != nil {
		opts.Transport = o.Transport
	}
	return opts, nil
}

// Client reads and writes pools through ARM.
type Client struct {
	cred azcore.TokenCredential
	opts *arm.ClientOptions
	poll time.Duration
}

// clients are the API Management clients of one subscription.
type clients struct {
	backends *armapimanagement.BackendClient
	named    *armapimanagement.NamedValueClient
	services *armapimanagement.ServiceClient
}

func (c *Client) in(subscription string) (clients, error) {
	f, err := armapimanagement.NewClientFactory(subscription, c.cred, c.opts)
	if err != nil {
		return clients{}, fmt.Errorf("api management client: %w", err)
	}
	return clients{backends: f.NewBackendClient(), named: f.NewNamedValueClient(), services: f.NewServiceClient()}, nil
}

// NewClient builds an ARM client.
func NewClient(cred azcore.TokenCredential, o Options) (*Client, error) {
	opts, err := ARMClientOptions(o)
	if err != nil {
		return nil, err
	}
	poll := o.PollEvery
	if poll <= 0 {
		poll = 2 * time.Second
	}
	return &Client{cred: cred, opts: opts, poll: poll}, nil
}

// Read reads the pool's weights, description and the current-slot-name value.
func (c *Client) Read(ctx context.Context, t Target) (Live, error) {
	api, err := c.in(t.Subscription)
	if err != nil {
		return Live{}, err
	}
	resp, err := api.backends.Get(ctx, t.ResourceGroup, t.Service, t.PoolID, nil)
	if err != nil {
		return Live{}, fmt.Errorf("read pool %s of %s: %w", t.PoolID, t.Service, err)
	}
	live := Live{}
	if resp.ETag != nil {
		live.etag = *resp.ETag
	}
	p := resp.Properties
	if p == nil || p.Pool == nil {
		return Live{}, fmt.Errorf("backend %s of %s is not a pool", t.PoolID, t.Service)
	}
	if p.Description != nil {
		live.Description = *p.Description
	}
	seen := map[stack.Slot]bool{}
	for _, m := range p.Pool.Services {
		if m == nil || m.ID == nil {
			continue
		}
		slot, ok := stack.SlotOfBackendID(lastSegment(*m.ID))
		if !ok {
			return Live{}, fmt.Errorf("pool %s has a member %s that is neither slot's backend", t.PoolID, *m.ID)
		}
		w := 0
		if m.Weight != nil {
			w = int(*m.Weight)
		}
		seen[slot] = true
		if slot == stack.Blue {
			live.Weights.Blue = w
		} else {
			live.Weights.Green = w
		}
	}
	if !seen[stack.Green] || !seen[stack.Blue] {
		return Live{}, fmt.Errorf("pool %s does not list both slots' backends", t.PoolID)
	}
	nv, err := api.named.Get(ctx, t.ResourceGroup, t.Service, t.CurrentSlotID, nil)
	if err != nil {
		return Live{}, fmt.Errorf("read named value %s of %s: %w", t.CurrentSlotID, t.Service, err)
	}
	if nv.Properties != nil && nv.Properties.Value != nil {
		live.CurrentSlotName = *nv.Properties.Value
	}
	return live, nil
}

// Write sets the pool's weights, keeping its members and their priorities, and leaves note in
// its description (unless note is empty); then, when currentSlot is not empty and differs, current-slot-name. The
// pool is written with the ETag it was read with, so a concurrent change is never overwritten
// unseen: on 412 it reads again and writes once more. Progress goes to out.
func (c *Client) Write(ctx context.Context, t Target, w stack.Weights, currentSlot, note string, out io.Writer) (Live, error) {
	api, err := c.in(t.Subscription)
	if err != nil {
		return Live{}, err
	}
	var live Live
	for attempt := 1; ; attempt++ {
		got, err := api.backends.Get(ctx, t.ResourceGroup, t.Service, t.PoolID, nil)
		if err != nil {
			return Live{}, fmt.Errorf("read pool %s of %s: %w", t.PoolID, t.Service, err)
		}
		if got.Properties == nil || got.Properties.Pool == nil {
			return Live{}, fmt.Errorf("backend %s of %s is not a pool", t.PoolID, t.Service)
		}
		members := make([]*armapimanagement.BackendPoolItem, 0, len(got.Properties.Pool.Services))
		for _, m := range got.Properties.Pool.Services {
			if m == nil || m.ID == nil {
				continue
			}
			slot, ok := stack.SlotOfBackendID(lastSegment(*m.ID))
			if !ok {
				return Live{}, fmt.Errorf("pool %s has a member %s that is neither slot's backend", t.PoolID, *m.ID)
			}
			weight := int32(w.Of(slot))
			members = append(members, &armapimanagement.BackendPoolItem{ID: m.ID, Priority: m.Priority, Weight: &weight})
		}
		sort.Slice(members, func(i, j int) bool { return *members[i].ID < *members[j].ID })
		etag := "*"
		if got.ETag != nil {
			etag = *got.ETag
		}
		fmt.Fprintf(out, "ARM: PATCH pool %s (%s)...\n", t.PoolARMID(), w)
		props := &armapimanagement.BackendUpdateParameterProperties{Pool: &armapimanagement.BackendBaseParametersPool{Services: members}}
		if note != "" {
			props.Description = &note
		}
		_, err = api.backends.Update(ctx, t.ResourceGroup, t.Service, t.PoolID, etag, armapimanagement.BackendUpdateParameters{Properties: props}, nil)
		var re *azcore.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusPreconditionFailed && attempt < 2 {
			fmt.Fprintln(out, "ARM: the pool changed since it was read; reading it again")
			continue
		}
		if err != nil {
			return Live{}, fmt.Errorf("write pool %s of %s: %w", t.PoolID, t.Service, err)
		}
		live = Live{Weights: w, Description: note}
		if note == "" && got.Properties.Description != nil {
			live.Description = *got.Properties.Description
		}
		break
	}
	nv, err := api.named.Get(ctx, t.ResourceGroup, t.Service, t.CurrentSlotID, nil)
	if err != nil {
		return live, fmt.Errorf("traffic is at %s, but reading named value %s failed: %w", w, t.CurrentSlotID, err)
	}
	if nv.Properties != nil && nv.Properties.Value != nil {
		live.CurrentSlotName = *nv.Properties.Value
	}
	if currentSlot == "" || currentSlot == live.CurrentSlotName {
		return live, nil
	}
	fmt.Fprintf(out, "ARM: PATCH named value %s = %s (a long-running operation)...\n", t.CurrentSlotID, currentSlot)
	poller, err := api.named.BeginUpdate(ctx, t.ResourceGroup, t.Service, t.CurrentSlotID, "*", armapimanagement.NamedValueUpdateParameters{
		Properties: &armapimanagement.NamedValueUpdateParameterProperties{Value: &currentSlot},
	}, nil)
	if err == nil {
		_, err = poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: c.poll})
	}
	if err != nil {
		return live, fmt.Errorf("traffic is at %s, but setting %s to %s failed: %w", w, t.CurrentSlotID, currentSlot, err)
	}
	live.CurrentSlotName = currentSlot
	return live, nil
}

// FindService finds the API Management service a stack created in a resource group, by the
// tags the program gives it (app=<project>, stack=<stack>): its name is generated by
// azure-native and known otherwise only to Pulumi state.
func (c *Client) FindService(ctx context.Context, subscription, group, projectName, stackName string) (string, error) {
	api, err := c.in(subscription)
	if err != nil {
		return "", err
	}
	var found, all []string
	pager := api.services.NewListByResourceGroupPager(group, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("list API Management services in %s: %w", group, err)
		}
		for _, s := range page.Value {
			if s == nil || s.Name == nil {
				continue
			}
			all = append(all, *s.Name)
			if tag(s.Tags, "app") == projectName && tag(s.Tags, "stack") == stackName {
				found = append(found, *s.Name)
			}
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("no API Management service in %s is tagged app=%s, stack=%s (services there: %s)", group, projectName, stackName, strings.Join(all, ", "))
	}
	return "", fmt.Errorf("several API Management services in %s are tagged app=%s, stack=%s: %s", group, projectName, stackName, strings.Join(found, ", "))
}

func tag(tags map[string]*string, k string) string {
	if v := tags[k]; v != nil {
		return *v
	}
	return ""
}

func lastSegment(id string) string { return id[strings.LastIndex(id, "/")+1:] }

// Located is the live pool of one stack: a client and the way to find the pool's target, which
// is resolved on first use and kept. It implements release.LivePool.
type Located struct {
	Client *Client
	// Locate finds the target; called once, on first use.
	Locate func(ctx context.Context, c *Client) (Target, error)

	target *Target
}

func (l *Located) resolve(ctx context.Context) (Target, error) {
	if l.target != nil {
		return *l.target, nil
	}
	t, err := l.Locate(ctx, l.Client)
	if err != nil {
		return Target{}, err
	}
	l.target = &t
	return t, nil
}

// Read reads the live pool.
func (l *Located) Read(ctx context.Context) (Live, error) {
	t, err := l.resolve(ctx)
	if err != nil {
		return Live{}, err
	}
	return l.Client.Read(ctx, t)
}

// Write writes the live pool; see Client.Write.
func (l *Located) Write(ctx context.Context, w stack.Weights, currentSlot, note string, out io.Writer) (Live, error) {
	t, err := l.resolve(ctx)
	if err != nil {
		return Live{}, err
	}
	return l.Client.Write(ctx, t, w, currentSlot, note, out)
}
