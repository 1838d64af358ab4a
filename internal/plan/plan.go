// Package plan runs the real slotless program under Pulumi's mock runtime with a stack's
// configuration and returns the desired state: the traffic split and every resource with its
// exact inputs. It is the offline plan behind `slotless plan`, and the base of its diffs.
package plan

import (
	"fmt"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/slotless/slotless/internal/buildinfo"
	"github.com/slotless/slotless/stack"
)

// Plan is the desired state of one stack. Its JSON shape is a contract the pipelines rely on.
type Plan struct {
	Stack     string     `json:"stack"`
	Traffic   Traffic    `json:"traffic"`
	Resources []Resource `json:"resources"`
	// Assumptions are what the plan took for what only Azure can say, one sentence each.
	Assumptions []string `json:"assumptions,omitempty"`
}

// Traffic is the split the pool applies, and the live slot.
type Traffic struct {
	Green int    `json:"green"`
	Blue  int    `json:"blue"`
	Live  string `json:"live"`
}

// Resource is one registered resource with its input properties as plain JSON values.
// Secret values show as "[secret]".
type Resource struct {
	Type   string         `json:"type"`
	Name   string         `json:"name"`
	Inputs map[string]any `json:"inputs"`
	// IgnoreChanges lists inputs Pulumi leaves alone on update; a diff skips them as `up` does.
	IgnoreChanges []string `json:"ignoreChanges,omitempty"`
}

// ConfigError is invalid stack configuration, as opposed to a failure of the plan itself.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Run plans stackName under cfg.
func Run(stackName string, cfg StackConfig) (*Plan, error) {
	if err := cfg.CheckKeys(); err != nil {
		return nil, &ConfigError{err}
	}
	if err := cfg.CheckSecrets(); err != nil {
		return nil, &ConfigError{err}
	}
	parsed, err := stack.Parse(cfg.Source())
	if err != nil {
		// The program would fail with the same message; saying it here keeps the wording.
		return nil, &ConfigError{fmt.Errorf("invalid stack config:\n%w", err)}
	}
	if _, err := stack.LoadAPISurface(cfg.Root, parsed.API.Spec, parsed.API.HealthPath); err != nil {
		return nil, &ConfigError{fmt.Errorf("invalid stack config:\n%w", err)}
	}
	mocks, err := Execute(stackName, cfg)
	if err != nil {
		return nil, err
	}
	p := &Plan{
		Stack:   stackName,
		Traffic: Traffic{Green: parsed.Weights.Green, Blue: parsed.Weights.Blue, Live: string(parsed.Weights.Live())},
	}
	if parsed.APIM.Reuse() {
		p.Assumptions = append(p.Assumptions, fmt.Sprintf("apimName %s: its tier is read from the service when the program runs on Azure; this plan takes it to be %s (%s), which decides the circuit breakers", parsed.APIM.ExistingName, mocks.serviceSKU(), reusedSKUWhy(parsed)))
	}
	for _, r := range mocks.Recorded {
		p.Resources = append(p.Resources, Resource{Type: r.Type, Name: r.Name, Inputs: plain(r.Inputs), IgnoreChanges: r.Ignore})
	}
	sort.Slice(p.Resources, func(i, j int) bool {
		a, b := p.Resources[i], p.Resources[j]
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		return a.Name < b.Name
	})
	return p, nil
}

// Execute runs the program, as a plain pulumi up runs it, under the mock engine with cfg and returns what the engine saw,
// also when the program fails, so a caller can see what was registered before the failure.
func Execute(stackName string, cfg StackConfig) (*Mocks, error) {
	mocks := &Mocks{}
	// A reused service's tier is Azure's to say; a plan takes apimSku's claim when there is one.
	if parsed, _ := stack.ParseAll(cfg.Source()); parsed != nil {
		mocks.ServiceSKU = parsed.APIM.ClaimedSKU
	}
	withConfig := func(info *pulumi.RunInfo) {
		info.Config = cfg.Values
		info.ConfigSecretKeys = cfg.Secrets
	}
	// No time in the pool's record, so a plan is the same whenever it runs.
	program := stack.ProgramIn(cfg.Root, stack.Mover{By: stack.ByPulumiUp, Version: buildinfo.Version()})
	if err := pulumi.RunErr(program, pulumi.WithMocks(cfg.Project, stackName, mocks), withConfig); err != nil {
		return mocks, fmt.Errorf("plan %s: %w", stackName, err)
	}
	return mocks, nil
}

// plain turns engine property values into JSON values, hiding secrets.
func plain(pm resource.PropertyMap) map[string]any {
	out := map[string]any{}
	for k, v := range pm {
		out[string(k)] = plainValue(v)
	}
	return out
}

func plainValue(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return SecretPlaceholder
	case v.IsComputed(), v.IsOutput() && !v.OutputValue().Known:
		return "[unknown]"
	case v.IsOutput():
		if v.OutputValue().Secret {
			return SecretPlaceholder
		}
		return plainValue(v.OutputValue().Element)
	case v.IsNull():
		return nil
	case v.IsBool():
		return v.BoolValue()
	case v.IsNumber():
		return v.NumberValue()
	case v.IsString():
		return v.StringValue()
	case v.IsArray():
		var out []any
		for _, e := range v.ArrayValue() {
			out = append(out, plainValue(e))
		}
		return out
	case v.IsObject():
		return plain(v.ObjectValue())
	case v.IsResourceReference():
		return v.ResourceReferenceValue().URN
	}
	return fmt.Sprint(v.V)
}

// Find returns the resource of a type and logical name, or nil.
func (p *Plan) Find(typ, name string) *Resource {
	for i := range p.Resources {
		if p.Resources[i].Type == typ && p.Resources[i].Name == name {
			return &p.Resources[i]
		}
	}
	return nil
}

// serviceSKU is the tier the mocks answer for a reused service.
func (m *Mocks) serviceSKU() string {
	if m.ServiceSKU == "" {
		return DefaultServiceSKU
	}
	return m.ServiceSKU
}

// reusedSKUWhy says where a plan's tier for a reused service came from.
func reusedSKUWhy(c *stack.Config) string {
	if c.APIM.ClaimedSKU != "" {
		return "apimSku says so"
	}
	return "set apimSku to plan another"
}
