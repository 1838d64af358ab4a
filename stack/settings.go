package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Settings are released, not applied. A change to what an app runs besides its package (its
// settings, its runtime, its instance size, its subnet, the Application Insights it reports to)
// is a Flex site update, which restarts the app's
// instances (Recreate, "Site update strategies in Flex Consumption"): applied to both apps by one
// `pulumi up`, a bad connection string would reach every user at once, with no canary and no
// rollback. So a plain update gives the new configuration to the slots that carry no traffic,
// and a slot that carries traffic keeps what it runs (its app's configuration inputs are held
// with ignoreChanges) until a release makes it idle. `slotless release` then canaries the change
// like code, and a rollback puts traffic back on the slot with the old configuration.
//
// Which slot runs which configuration is recorded in the stack's outputs: the generation each
// slot runs (settingsGenerations, a number that grows with each new configuration) and the
// configuration's fingerprint (settingsHashes, a secret output, since the settings may hold
// secrets), read back at the next run through readStackOutputs like slotlessVersion.

// Output names of the settings record.
const (
	OutSettingsGenerations = "settingsGenerations"
	OutSettingsHashes      = "settingsHashes"
	// OutSettingsLiveChange records the last change forced onto a slot that carried traffic.
	OutSettingsLiveChange = "settingsLiveChange"
)

// desiredKey names the configuration the stack's config asks for in the settings record.
const desiredKey = "desired"

// EnvAllowLiveChange, set to true for one `pulumi up`, gives a new configuration to the slots
// that carry traffic too, restarting them: for an emergency (a leaked credential to rotate), and
// recorded in settingsLiveChange.
const EnvAllowLiveChange = "SLOTLESS_ALLOW_LIVE_CHANGE"

// AllowLiveChangeFrom reads EnvAllowLiveChange from an environment.
func AllowLiveChangeFrom(getenv func(string) string) bool {
	switch strings.ToLower(strings.TrimSpace(getenv(EnvAllowLiveChange))) {
	case "1", "true", "yes":
		return true
	}
	return false
}

// heldAppInputs are the app's inputs a slot that carries traffic keeps: everything a plain
// update could change on it but its always-ready count (functionAppConfig.scaleAndConcurrency.
// alwaysReady), which follows the traffic and moves with it (AlwaysReady). TestHeldAppInputs
// keeps the list in step with what the program sets.
var heldAppInputs = []string{
	"siteConfig",
	"functionAppConfig.runtime",
	"functionAppConfig.deployment",
	"functionAppConfig.scaleAndConcurrency.instanceMemoryMB",
	"functionAppConfig.scaleAndConcurrency.maximumInstanceCount",
	"httpsOnly",
	"tags",
	"keyVaultReferenceIdentity",
	"virtualNetworkSubnetId",
}

// HeldAppInputs is heldAppInputs, for the tests that keep it in step with the app.
func HeldAppInputs() []string { return slices.Clone(heldAppInputs) }

// appConfig is the configuration a slot's app runs, as far as the stack's config decides it:
// what a settings generation stands for.
type appConfig struct {
	Settings             map[string]string `json:"settings,omitempty"`
	Runtime              string            `json:"runtime"`
	RuntimeVersion       string            `json:"runtimeVersion"`
	InstanceMemoryMB     int               `json:"instanceMemoryMB"`
	MaximumInstanceCount int               `json:"maximumInstanceCount"`
	// Subnet is virtualNetworkSubnetId and AppInsights appInsightsResourceId (the component the
	// apps' connection string names), empty for none and for the stack's own: omitted then, so
	// a stack that sets neither keeps the fingerprints it had before either existed.
	Subnet      string `json:"subnet,omitempty"`
	AppInsights string `json:"appInsights,omitempty"`
}

func (c *Config) appConfig() appConfig {
	return appConfig{
		Settings:             c.AppSettings.Values,
		Runtime:              c.Runtime.Name,
		RuntimeVersion:       c.Runtime.Version,
		InstanceMemoryMB:     c.InstanceMemoryMB,
		MaximumInstanceCount: c.MaximumInstanceCount,
		Subnet:               c.SubnetID.Raw,
		AppInsights:          c.Telemetry.AppInsights.Raw,
	}
}

// fingerprint identifies a configuration: the SHA-256 of its canonical JSON (maps marshal with
// sorted keys). It covers secret values, so it is only ever kept as a secret output.
func (a appConfig) fingerprint() string {
	raw, _ := json.Marshal(a)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// SettingsPlan is what an update does with the apps' configuration.
type SettingsPlan struct {
	// Held are the slots that keep what they run, their app's configuration inputs ignored.
	Held map[Slot]bool
	// Generations and Hashes are the settings record this update leaves: each slot's generation
	// and fingerprint, and desiredKey's, the config's.
	Generations map[string]int
	Hashes      map[string]string
	// Warnings say what waits for a release, and what was forced.
	Warnings []string
	// LiveChange is the record of a change forced onto slots that carried traffic, or the
	// previous one.
	LiveChange string
}

// ErrSettingsWait refuses a configuration change that could land on no slot.
var ErrSettingsWait = errors.New("settings")

// PlanSettings decides, from the last update's outputs, which slots take the configuration
// cfg asks for: every slot that carries no traffic, in the deployed stack or in cfg (a slot is
// given no new configuration in the update that moves traffic onto it), and with allowLive every
// slot. When both slots carry traffic (a release in progress) and the configuration is new to
// both, it can land nowhere: refused, naming the ways out, unless allowLive.
func PlanSettings(cfg *Config, last map[string]any, allowLive bool, at time.Time) (SettingsPlan, error) {
	desired := cfg.appConfig().fingerprint()
	prevGen, prevHash := intMap(last[OutSettingsGenerations]), stringMap(last[OutSettingsHashes])
	p := SettingsPlan{Held: map[Slot]bool{}, Generations: map[string]int{}, Hashes: map[string]string{}}
	p.LiveChange, _ = last[OutSettingsLiveChange].(string)

	// The generation of the config's configuration: the one it already has, else the next.
	gen := 0
	for _, k := range []string{desiredKey, string(Green), string(Blue)} {
		if prevHash[k] == desired && prevGen[k] > 0 {
			gen = prevGen[k]
			break
		}
	}
	if gen == 0 {
		gen = 1
		for _, g := range prevGen {
			gen = max(gen, g+1)
		}
	}
	p.Generations[desiredKey], p.Hashes[desiredKey] = gen, desired

	deployed := deployedWeights(last)
	var busy, changedLive []Slot
	for _, s := range Slots {
		carries := deployed != nil && (deployed.Of(s) > 0 || cfg.Weights.Of(s) > 0)
		if !carries {
			p.Generations[string(s)], p.Hashes[string(s)] = gen, desired
			continue
		}
		busy = append(busy, s)
		if prevHash[s.key()] == desired {
			p.Generations[string(s)], p.Hashes[string(s)] = gen, desired
			p.Held[s] = true
			continue
		}
		if allowLive {
			changedLive = append(changedLive, s)
			p.Generations[string(s)], p.Hashes[string(s)] = gen, desired
			continue
		}
		p.Held[s] = true
		p.Generations[string(s)], p.Hashes[string(s)] = prevGen[s.key()], prevHash[s.key()]
	}

	if len(changedLive) > 0 {
		p.LiveChange = fmt.Sprintf("generation %d forced onto %s, which carried traffic, at %s (%s)", gen, slotList(changedLive), at.UTC().Format(time.RFC3339), EnvAllowLiveChange)
		p.Warnings = append(p.Warnings, fmt.Sprintf("settings: %s=true gives generation %d to %s while it carries traffic, restarting it now, outside a release; recorded in the stack output %s", EnvAllowLiveChange, gen, slotList(changedLive), OutSettingsLiveChange))
		return p, nil
	}
	var waiting []Slot
	for _, s := range busy {
		if p.Hashes[string(s)] != desired {
			waiting = append(waiting, s)
		}
	}
	if len(waiting) == 0 {
		return p, nil
	}
	if len(waiting) == len(Slots) && !slices.ContainsFunc(Slots, func(s Slot) bool { return prevHash[s.key()] == "" }) {
		if _, idle := deployed.Idle(); idle {
			onto := deployed.Live().Other()
			return p, fmt.Errorf("%w: this update moves traffic onto %s (%s deployed, %s in the config) and changes the apps' configuration (settings generation %d) at once, so %s would take traffic with a configuration nobody has seen run. Apply the configuration first, with the weights as deployed (pulumi config set blueWeight %d && pulumi up gives it to %s while it is idle), then release it; or, in an emergency, %s=true pulumi up",
				ErrSettingsWait, onto, *deployed, cfg.Weights, gen, onto, deployed.Blue, onto, EnvAllowLiveChange)
		}
		return p, fmt.Errorf("%w: a release is in progress (%s), so the apps' new configuration (settings generation %d: appSettings, functionRuntime, functionRuntimeVersion, instanceMemoryMB, maximumInstanceCount, virtualNetworkSubnetId or appInsightsResourceId changed) can land on neither slot without restarting one that carries traffic. Finish the release (slotless release) or roll it back, then pulumi up gives it to the idle slot; or, in an emergency, %s=true pulumi up gives it to both now, restarting them (recorded)",
			ErrSettingsWait, cfg.Weights, gen, EnvAllowLiveChange)
	}
	goes := fmt.Sprintf("generation %d waits until a release makes a slot idle", gen)
	if len(busy) < len(Slots) {
		idle := slices.DeleteFunc(slices.Clone(Slots), func(s Slot) bool { return slices.Contains(busy, s) })
		goes = fmt.Sprintf("generation %d goes to %s, which carries none; release it with slotless release", gen, slotList(idle))
	}
	for _, s := range waiting {
		was := "settings from before generations were recorded"
		if g := p.Generations[string(s)]; g > 0 {
			was = fmt.Sprintf("settings generation %d", g)
		}
		p.Warnings = append(p.Warnings, fmt.Sprintf("settings: %s carries traffic, so it keeps %s until a release makes it idle; %s (or, in an emergency, %s=true pulumi up restarts %s with it now)",
			s, was, goes, EnvAllowLiveChange, s))
	}
	return p, nil
}

// key is the slot's key in the settings record.
func (s Slot) key() string { return string(s) }

// deployedWeights are the weights of the last update, nil for a stack never deployed.
func deployedWeights(last map[string]any) *Weights {
	blue, ok := last[OutBlueWeight].(float64)
	if !ok {
		return nil
	}
	return &Weights{Green: 100 - int(blue), Blue: int(blue)}
}

func intMap(v any) map[string]int {
	out := map[string]int{}
	m, _ := v.(map[string]any)
	for k, e := range m {
		if f, ok := e.(float64); ok {
			out[k] = int(f)
		}
	}
	return out
}

func stringMap(v any) map[string]string {
	out := map[string]string{}
	m, _ := v.(map[string]any)
	for k, e := range m {
		if s, ok := e.(string); ok {
			out[k] = s
		}
	}
	return out
}

func slotList(ss []Slot) string {
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = string(s)
	}
	return strings.Join(names, " and ")
}

// exportSettings records the plan in the stack's outputs.
func exportSettings(ctx *pulumi.Context, p SettingsPlan) {
	gens := pulumi.IntMap{}
	hashes := pulumi.StringMap{}
	for k, g := range p.Generations {
		gens[k] = pulumi.Int(g)
	}
	for k, h := range p.Hashes {
		hashes[k] = pulumi.String(h)
	}
	ctx.Export(OutSettingsGenerations, gens)
	ctx.Export(OutSettingsHashes, pulumi.ToSecret(hashes))
	if p.LiveChange != "" {
		ctx.Export(OutSettingsLiveChange, pulumi.String(p.LiveChange))
	}
}
