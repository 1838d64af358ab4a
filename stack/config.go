package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

// Project is the Pulumi project name, and so the namespace of every config key below.
const Project = "slotless"

// Config is the validated stack configuration. Every value the program uses comes from here.
type Config struct {
	Weights Weights

	// Location is azure-native:location, where everything is created.
	Location string
	// Prefix starts every resource name.
	Prefix string
	// ResourceGroupName names an existing resource group to deploy into; empty creates one.
	ResourceGroupName string
	// StorageAccountName overrides the derived, globally unique storage account name.
	StorageAccountName string

	MaximumInstanceCount int
	InstanceMemoryMB     int
	LogRetentionDays     int

	APIM APIMConfig
	API  APIConfig

	// PinToken enables slot pinning: a request with X-Slotless-Slot and this token in
	// X-Slotless-Token goes to that slot. Empty disables pinning.
	PinToken string
	// MaxStep is the largest traffic step towards a release slot that shift and plan accept
	// without forcing. Rollbacks are never limited.
	MaxStep        int
	CircuitBreaker CircuitBreakerConfig

	// Release is the plan `slotless release` walks: steps, bakes, analyses and warm-up.
	Release ReleaseConfig
	// AlwaysReadyInstances is Flex Consumption's alwaysReady count for the live slot's app; see
	// Weights.AlwaysReady for which app gets it when.
	AlwaysReadyInstances int
}

// ReleaseConfig is the release plan. It is stack config so a change to it is reviewed in the
// pull request, like the weights.
type ReleaseConfig struct {
	// Steps are the release slot's traffic shares in percent, strictly ascending, ending at 100.
	Steps []int
	// BakeMinutes is how long each step is watched before the next; the same for every step.
	BakeMinutes int
	// AnalysisIntervalSeconds is the pause between the analyses (health and metrics gates) of
	// a bake.
	AnalysisIntervalSeconds int
	Metrics                 MetricsThresholds
	// WarmupRequests is the concurrency of the warm-up before each shift.
	WarmupRequests int
	// WarmupLatencyMs is the bound every warm-up request of a round must answer within.
	WarmupLatencyMs int
}

// MetricsThresholds are the metrics gate's limits, with the meaning of its flags. Its window is
// the analysis interval.
type MetricsThresholds struct {
	// MaxFailureRateDelta is how far the canary's failure rate (0..1) may exceed the stable
	// slot's.
	MaxFailureRateDelta float64
	// MaxP95Ratio is the largest allowed canary p95 / stable p95.
	MaxP95Ratio float64
	// MinRequests is the fewest requests each slot needs in the window for a verdict.
	MinRequests int
	// InconclusiveFails makes too little traffic block, as the gate's --inconclusive fail.
	InconclusiveFails bool
}

// CircuitBreakerConfig is the rule put on each single backend, never on the pool.
type CircuitBreakerConfig struct {
	// Failures is how many 5xx answers within Interval trip the breaker; 0 turns it off.
	Failures     int
	Interval     string
	TripDuration string
}

// APIMConfig says whether API Management is created or reused.
type APIMConfig struct {
	// ExistingName and ExistingResourceGroup name a service to reuse; empty creates one.
	ExistingName          string
	ExistingResourceGroup string
	SKU                   string
	Capacity              int
	PublisherName         string
	PublisherEmail        string
}

// Reuse reports whether an existing API Management service is used.
func (a APIMConfig) Reuse() bool { return a.ExistingName != "" }

// APIConfig shapes the API in front of the pool.
type APIConfig struct {
	Path                 string
	SubscriptionRequired bool
	CORSOrigins          []string
}

// Key describes one config key: its name, default and what it allows. The README's config table
// and the offline plan's unknown-key check are both read from Keys, so they cannot drift.
type Key struct {
	Name    string
	Default string
	Allowed string
	Doc     string
	// Secret keys hold credentials: set them with `pulumi config set --secret`.
	Secret bool
}

// LookupKey returns the description of a config key.
func LookupKey(name string) (Key, bool) {
	for _, k := range Keys {
		if k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}

// APIMSKUs are the API Management tiers this stack can create. Developer and Premium are v1 tiers
// with capacity units; the v2 tiers and Consumption support backend pools too.
var APIMSKUs = []string{"Consumption", "Developer", "Basic", "Standard", "Premium", "BasicV2", "StandardV2"}

// PinTokenAllowed says which pinning tokens are accepted: URL-safe characters only.
const PinTokenAllowed = "16..256 URL-safe characters: letters, digits, '.', '_', '~' and '-'"

// InstanceMemorySizes are the instance sizes Flex Consumption offers.
var InstanceMemorySizes = []int{512, 2048, 4096}

// Keys lists every project config key.
var Keys = []Key{
	{"blueWeight", "0", "integer 0..100", "percent of API traffic sent to blue; green gets the rest", false},
	{"greenWeight", "100 - blueWeight", "integer 0..100, summing to 100 with blueWeight", "optional; when set it must agree with blueWeight", false},
	{"prefix", "slotless", "3..12 lower-case letters and digits, starting with a letter", "starts every resource name", false},
	{"resourceGroupName", "(create <prefix>-<stack>-rg)", "an existing resource group name, 1..90 characters", "deploy into this resource group instead of creating one", false},
	{"storageAccountName", "(st<prefix><hash>)", "3..24 lower-case letters and digits", "override the derived, globally unique storage account name", false},
	{"maximumInstanceCount", "100", "integer 40..1000", "Flex Consumption scale-out limit of each app", false},
	{"instanceMemoryMB", "2048", "512, 2048 or 4096", "Flex Consumption instance size of each app", false},
	{"logRetentionDays", "30", "integer 30..730", "Log Analytics retention", false},
	{"apimName", "(create one)", "an existing API Management service name", "reuse this service instead of creating one", false},
	{"apimResourceGroupName", "(required with apimName)", "the existing service's resource group", "where apimName lives", false},
	{"apimSku", "Consumption", strings.Join(APIMSKUs, ", "), "tier of the created service, or of the reused one (it decides whether circuit breakers are possible)", false},
	{"apimCapacity", "0 for Consumption, else 1", "0 for Consumption, else integer 1..12", "scale units of a created service", false},
	{"publisherName", "slotless", "1..100 characters", "publisher name of a created service", false},
	{"publisherEmail", "(required to create a service)", "an e-mail address", "publisher e-mail of a created service", false},
	{"apiPath", "slotless", "1..80 of letters, digits, '-', '_' and '/', not starting or ending with '/'", "the API's path under the gateway", false},
	{"subscriptionRequired", "true", "true or false", "whether callers need an APIM subscription key", false},
	{"corsOrigins", "[] (no CORS policy)", "a list of http(s) origins, or [\"*\"]", "origins allowed by the API's CORS policy", false},
	{"pinToken", "(unset: pinning off)", PinTokenAllowed + "; set with --secret", "token that lets gates and testers pin a request to one slot with X-Slotless-Slot", true},
	{"maxStep", "50", "integer 1..100", "largest traffic step towards a release slot without --allow-jump/--force; 100 allows pure blue/green", false},
	{"circuitBreakerFailures", "0 on Consumption, else 10", "integer 0..10000; must be 0 on Consumption", "5xx answers within the interval that trip a slot's backend; 0 turns the breaker off", false},
	{"circuitBreakerInterval", "PT1M", "ISO 8601 duration, e.g. PT30S, PT1M, PT5M", "window the failures are counted in", false},
	{"circuitBreakerTripDuration", "PT1M", "ISO 8601 duration", "how long a tripped backend is taken out of the pool", false},
	{"releaseSteps", "[10, 50, 100]", "a JSON list of integers 1..100, strictly ascending, ending at 100", "the release slot's traffic steps in `slotless release`, which refuses a step more than maxStep above the one before (the first counts from 0); for pure blue/green set `[100]` and `maxStep` 100", false},
	{"bakeMinutes", "10", "integer 0..1440", "how long each step is watched before the next, the same for every step; 0 skips the bake and its analyses", false},
	{"analysisIntervalSeconds", "60", "integer 10..3600, at most bakeMinutes × 60", "how often the health and metrics gates run during a bake, and the metrics window: each analysis judges the requests since the one before, so this is the longest a failing canary keeps its traffic before the rollback starts; raise it when too little traffic makes verdicts inconclusive", false},
	{"metricsMaxFailureRateDelta", "0.02", "a number 0..1 (0.02 is 2 points)", "how far the canary's failure rate may exceed the stable slot's", false},
	{"metricsMaxP95Ratio", "1.5", "a number above 0, at most 100", "largest allowed canary p95 / stable p95", false},
	{"metricsMinRequests", "50", "integer 1..1000000", "fewest requests each slot needs in the window for a metrics verdict; fewer is inconclusive", false},
	{"metricsInconclusive", "pass", "pass or fail", "what too little traffic means; with `fail`, the last analysis of each bake below 100% must be conclusive (at 100% the stable slot has no traffic to compare with, so it never blocks there)", false},
	{"warmupRequests", "10", "integer 1..100", "concurrent requests, pinned to the release slot's health endpoint, that warm it before each shift", false},
	{"warmupLatencyMs", "1000", "integer 10..60000", "the warm-up ends once every request of a round answers within this many milliseconds", false},
	{"alwaysReadyInstances", "0", "integer 0..1000, at most maximumInstanceCount", "Flex always-ready instances: the live slot's app gets them and the idle slot's 0, both during a release; when above 0 the first step of a release also changes the release slot's app and the last step the old slot's app, not only the pool", false},
}

// KeyNames returns the names of Keys, for messages that list what is allowed.
func KeyNames() []string {
	names := make([]string, len(Keys))
	for i, k := range Keys {
		names[i] = k.Name
	}
	return names
}

// Source looks up one raw config value. ok is false when the key is not set.
type Source func(key string) (value string, ok bool)

// Load reads and validates the stack configuration from the Pulumi context.
func Load(ctx *pulumi.Context) (*Config, error) {
	project := config.New(ctx, Project)
	azure := config.New(ctx, "azure-native")
	src := func(key string) (string, bool) {
		if key == "azure-native:location" {
			v, err := azure.Try("location")
			return v, err == nil
		}
		v, err := project.Try(key)
		return v, err == nil
	}
	return Parse(src)
}

var (
	prefixRE      = regexp.MustCompile(`^[a-z][a-z0-9]{2,11}$`)
	storageNameRE = regexp.MustCompile(`^[a-z0-9]{3,24}$`)
	rgNameRE      = regexp.MustCompile(`^[-\w._()]{1,90}$`)
	apimNameRE    = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]{0,48}[a-zA-Z0-9]$`)
	apiPathRE     = regexp.MustCompile(`^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$`)
	locationRE    = regexp.MustCompile(`^[a-z][a-z0-9]{1,39}$`)
	// The token is substituted into a C# string literal of the API policy ({{slotless-pin-token}}
	// inside "..."), so a quote or backslash would break every request; URL-safe characters
	// cannot, and `openssl rand -hex 24` or a base64url token fits.
	pinTokenRE    = regexp.MustCompile(`^[A-Za-z0-9._~-]{16,256}$`)
	isoDurationRE = regexp.MustCompile(`^P(\d+D)?(T(\d+H)?(\d+M)?(\d+S)?)?$`)
	decimalRE     = regexp.MustCompile(`^\d{1,6}(\.\d{1,9})?$`)
)

// Parse validates raw config values. It reports every bad key at once, one line each, naming
// the key, the value and what is allowed, and it never panics on any input.
func Parse(src Source) (*Config, error) {
	p := &parser{src: src}
	c := &Config{}

	blue := p.intIn("blueWeight", 0, 0, 100)
	green := 100 - blue
	if raw, ok := src("greenWeight"); ok {
		g, err := atoi(raw)
		switch {
		case err != nil:
			p.fail("greenWeight", raw, "an integer 0..100")
		case g < 0 || g > 100:
			p.failf("greenWeight: %d is out of range 0..100", g)
		case g+blue != 100 && !p.failed("blueWeight"):
			p.failf("greenWeight: %d and blueWeight %d sum to %d, want 100", g, blue, g+blue)
		}
	}
	c.Weights = Weights{Green: green, Blue: blue}

	loc, ok := src("azure-native:location")
	switch {
	case !ok || strings.TrimSpace(loc) == "":
		p.failf("azure-native:location: is not set; set it with `pulumi config set azure-native:location westeurope`")
	default:
		// ARM accepts display names too ("West Europe"); normalise to the canonical form.
		loc = strings.ToLower(strings.ReplaceAll(loc, " ", ""))
		if !locationRE.MatchString(loc) {
			p.fail("azure-native:location", loc, "an Azure region name such as westeurope")
		}
	}
	c.Location = loc

	c.Prefix = p.match("prefix", "slotless", prefixRE, "3..12 lower-case letters and digits, starting with a letter")
	c.ResourceGroupName = p.match("resourceGroupName", "", rgNameRE, "a resource group name of 1..90 letters, digits, '-', '_', '.', '(' or ')'")
	c.StorageAccountName = p.match("storageAccountName", "", storageNameRE, "3..24 lower-case letters and digits")
	c.MaximumInstanceCount = p.intIn("maximumInstanceCount", 100, 40, 1000)
	c.InstanceMemoryMB = p.intOneOf("instanceMemoryMB", 2048, InstanceMemorySizes)
	c.LogRetentionDays = p.intIn("logRetentionDays", 30, 30, 730)

	c.APIM.ExistingName = p.match("apimName", "", apimNameRE, "an API Management service name (1..50 letters, digits and '-', starting with a letter)")
	c.APIM.ExistingResourceGroup = p.match("apimResourceGroupName", "", rgNameRE, "a resource group name of 1..90 letters, digits, '-', '_', '.', '(' or ')'")
	c.APIM.SKU = p.oneOf("apimSku", "Consumption", APIMSKUs)
	defaultCapacity := 1
	if c.APIM.SKU == "Consumption" {
		defaultCapacity = 0
	}
	if c.APIM.SKU == "Consumption" {
		c.APIM.Capacity = p.intIn("apimCapacity", defaultCapacity, 0, 0)
	} else {
		c.APIM.Capacity = p.intIn("apimCapacity", defaultCapacity, 1, 12)
	}
	c.APIM.PublisherName = p.str("publisherName", "slotless", 1, 100)
	c.APIM.PublisherEmail = p.email("publisherEmail")
	switch {
	case c.APIM.ExistingName != "" && c.APIM.ExistingResourceGroup == "" && !p.failed("apimResourceGroupName"):
		p.failf("apimResourceGroupName: is not set; it is required with apimName %q", c.APIM.ExistingName)
	case c.APIM.ExistingName == "" && c.APIM.ExistingResourceGroup != "":
		p.failf("apimName: is not set; apimResourceGroupName %q names where an existing service lives, so set apimName too", c.APIM.ExistingResourceGroup)
	case c.APIM.ExistingName == "" && c.APIM.PublisherEmail == "" && !p.failed("publisherEmail"):
		p.failf("publisherEmail: is not set; it is required to create an API Management service (or set apimName to reuse one)")
	}

	c.API.Path = p.match("apiPath", "slotless", apiPathRE, "1..80 of letters, digits, '-', '_' and '/', not starting or ending with '/'")
	if len(c.API.Path) > 80 {
		p.fail("apiPath", c.API.Path, "at most 80 characters")
	}
	c.API.SubscriptionRequired = p.boolean("subscriptionRequired", true)
	c.API.CORSOrigins = p.origins("corsOrigins")

	c.PinToken = p.match("pinToken", "", pinTokenRE, PinTokenAllowed+", such as the output of `openssl rand -hex 24`")
	c.MaxStep = p.intIn("maxStep", 50, 1, 100)
	if c.APIM.SKU == "Consumption" {
		// The Consumption tier does not support circuit breakers.
		if raw, ok := src("circuitBreakerFailures"); ok {
			if n, err := atoi(raw); err != nil || n != 0 {
				p.failf("circuitBreakerFailures: %q is not allowed on the Consumption tier, which does not support circuit breakers; want 0, or another apimSku", raw)
			}
		}
	} else {
		c.CircuitBreaker.Failures = p.intIn("circuitBreakerFailures", 10, 0, 10000)
	}
	c.CircuitBreaker.Interval = p.match("circuitBreakerInterval", "PT1M", isoDurationRE, "an ISO 8601 duration such as PT1M")
	c.CircuitBreaker.TripDuration = p.match("circuitBreakerTripDuration", "PT1M", isoDurationRE, "an ISO 8601 duration such as PT1M")
	for key, v := range map[string]string{"circuitBreakerInterval": c.CircuitBreaker.Interval, "circuitBreakerTripDuration": c.CircuitBreaker.TripDuration} {
		// The pattern lets an empty "P" or "PT" through; a duration needs a number.
		if !strings.ContainsAny(v, "0123456789") {
			p.fail(key, v, "an ISO 8601 duration such as PT1M")
		}
	}

	c.Release = p.release()
	c.AlwaysReadyInstances = p.intIn("alwaysReadyInstances", 0, 0, 1000)
	if c.AlwaysReadyInstances > c.MaximumInstanceCount && !p.failed("maximumInstanceCount") {
		p.failf("alwaysReadyInstances: %d is more than maximumInstanceCount %d; want at most %d", c.AlwaysReadyInstances, c.MaximumInstanceCount, c.MaximumInstanceCount)
	}

	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return c, nil
}

// parser collects one error per bad key, so a user fixes every key in one round.
type parser struct {
	src        Source
	errs       []error
	failedKeys []string
}

func (p *parser) failf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if key, _, ok := strings.Cut(msg, ":"); ok {
		p.failedKeys = append(p.failedKeys, key)
	}
	p.errs = append(p.errs, errors.New(msg))
}

func (p *parser) fail(key, raw, allowed string) {
	if raw == "" {
		p.failf("%s: the value is empty, want %s", key, allowed)
		return
	}
	if k, ok := LookupKey(key); ok && k.Secret {
		// A secret is never echoed, not even a rejected one: it may be a real credential.
		p.failf("%s: the value (secret, %d characters) is not valid, want %s", key, len(raw), allowed)
		return
	}
	p.failf("%s: %q is not valid, want %s", key, raw, allowed)
}

func (p *parser) failed(key string) bool { return slices.Contains(p.failedKeys, key) }

// atoi accepts a plain decimal integer; "1e2", "0x10" and "10.0" are rejected.
func atoi(raw string) (int, error) {
	s := strings.TrimSpace(raw)
	if s == "" || len(s) > 10 {
		return 0, strconv.ErrSyntax
	}
	return strconv.Atoi(s)
}

func (p *parser) intIn(key string, def, lo, hi int) int {
	raw, ok := p.src(key)
	if !ok {
		return def
	}
	n, err := atoi(raw)
	if err != nil {
		p.fail(key, raw, fmt.Sprintf("an integer %d..%d", lo, hi))
		return def
	}
	if n < lo || n > hi {
		if lo == hi {
			p.failf("%s: %d is out of range; it must be %d here", key, n, lo)
		} else {
			p.failf("%s: %d is out of range %d..%d", key, n, lo, hi)
		}
		return def
	}
	return n
}

func (p *parser) intOneOf(key string, def int, allowed []int) int {
	raw, ok := p.src(key)
	if !ok {
		return def
	}
	words := make([]string, len(allowed))
	for i, a := range allowed {
		words[i] = strconv.Itoa(a)
	}
	n, err := atoi(raw)
	if err != nil || !slices.Contains(allowed, n) {
		p.fail(key, raw, "one of "+strings.Join(words, ", "))
		return def
	}
	return n
}

func (p *parser) oneOf(key, def string, allowed []string) string {
	raw, ok := p.src(key)
	if !ok {
		return def
	}
	if !slices.Contains(allowed, raw) {
		p.fail(key, raw, "one of "+strings.Join(allowed, ", "))
		return def
	}
	return raw
}

func (p *parser) match(key, def string, re *regexp.Regexp, allowed string) string {
	raw, ok := p.src(key)
	if !ok {
		return def
	}
	if !re.MatchString(raw) {
		p.fail(key, raw, allowed)
		return def
	}
	return raw
}

func (p *parser) str(key, def string, lo, hi int) string {
	raw, ok := p.src(key)
	if !ok {
		return def
	}
	if n := len(strings.TrimSpace(raw)); n < lo || len(raw) > hi {
		p.fail(key, raw, fmt.Sprintf("%d..%d characters", lo, hi))
		return def
	}
	return raw
}

func (p *parser) boolean(key string, def bool) bool {
	raw, ok := p.src(key)
	if !ok {
		return def
	}
	switch strings.TrimSpace(raw) {
	case "true":
		return true
	case "false":
		return false
	}
	p.fail(key, raw, "true or false")
	return def
}

func (p *parser) email(key string) string {
	raw, ok := p.src(key)
	if !ok {
		return ""
	}
	addr, err := mail.ParseAddress(raw)
	// A bare address only: "Name <a@b.c>" parses too, but APIM wants the address alone.
	if err != nil || addr.Address != raw || !strings.Contains(raw[strings.LastIndex(raw, "@")+1:], ".") {
		p.fail(key, raw, "an e-mail address such as ops@example.com")
		return ""
	}
	return raw
}

// origins reads a JSON list of CORS origins, as Pulumi passes a list-typed config value.
func (p *parser) origins(key string) []string {
	raw, ok := p.src(key)
	if !ok {
		return nil
	}
	const allowed = `a JSON list of origins such as ["https://app.example.com"], or ["*"]`
	var list []string
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		p.fail(key, raw, allowed)
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, o := range list {
		if o == "*" {
			if len(list) != 1 {
				p.fail(key, raw, `"*" alone, or a list of origins without "*"`)
				return nil
			}
			return []string{"*"}
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			p.fail(key, o, "an origin such as https://app.example.com (scheme and host, no path)")
			return nil
		}
		origin := u.Scheme + "://" + u.Host
		if !seen[origin] {
			seen[origin] = true
			out = append(out, origin)
		}
	}
	return out
}

// defaultReleaseSteps is the release plan when releaseSteps is not set: canary, ring, GA.
var defaultReleaseSteps = []int{10, 50, 100}

// release reads the release plan keys. The steps are checked against maxStep by CheckSteps
// where a release runs, not here: an error here fails every `pulumi up`, a rollback's included,
// and lowering maxStep must never block a rollback.
func (p *parser) release() ReleaseConfig {
	r := ReleaseConfig{
		Steps:                   p.steps("releaseSteps"),
		BakeMinutes:             p.intIn("bakeMinutes", 10, 0, 1440),
		AnalysisIntervalSeconds: p.intIn("analysisIntervalSeconds", 60, 10, 3600),
		WarmupRequests:          p.intIn("warmupRequests", 10, 1, 100),
		WarmupLatencyMs:         p.intIn("warmupLatencyMs", 1000, 10, 60000),
	}
	if bake := r.BakeMinutes * 60; bake > 0 && r.AnalysisIntervalSeconds > bake && !p.failed("bakeMinutes") {
		p.failf("analysisIntervalSeconds: %d is longer than the bake of %d minutes; want at most %d, or a longer bakeMinutes", r.AnalysisIntervalSeconds, r.BakeMinutes, bake)
	}
	r.Metrics = MetricsThresholds{
		MaxFailureRateDelta: p.decimal("metricsMaxFailureRateDelta", 0.02, 0, 1, true, "a number 0..1 such as 0.02 (2 points)"),
		MaxP95Ratio:         p.decimal("metricsMaxP95Ratio", 1.5, 0, 100, false, "a number above 0, at most 100, such as 1.5"),
		MinRequests:         p.intIn("metricsMinRequests", 50, 1, 1000000),
		InconclusiveFails:   p.oneOf("metricsInconclusive", "pass", []string{"pass", "fail"}) == "fail",
	}
	return r
}

// steps reads a JSON list of traffic steps, as Pulumi passes a list-typed config value.
func (p *parser) steps(key string) []int {
	def := slices.Clone(defaultReleaseSteps)
	raw, ok := p.src(key)
	if !ok {
		return def
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var items []any
	if err := dec.Decode(&items); err != nil || dec.More() {
		p.fail(key, raw, "a JSON list of integers such as [10, 50, 100]")
		return def
	}
	list := make([]json.Number, len(items))
	for i, item := range items {
		// json.Number alone would also take "10" in quotes.
		n, ok := item.(json.Number)
		if !ok {
			p.fail(key, raw, "a JSON list of integers such as [10, 50, 100]")
			return def
		}
		list[i] = n
	}
	if len(list) == 0 {
		p.failf("%s: the list is empty, want at least one step, the last 100", key)
		return def
	}
	steps := make([]int, len(list))
	prev := 0
	for i, n := range list {
		v, err := atoi(n.String())
		switch {
		case err != nil:
			p.failf("%s: step %q is not an integer, want integers 1..100", key, n.String())
			return def
		case v < 1 || v > 100:
			p.failf("%s: step %d is out of range 1..100", key, v)
			return def
		case i > 0 && v <= prev:
			p.failf("%s: %d follows %d, want strictly ascending steps", key, v, prev)
			return def
		}
		steps[i], prev = v, v
	}
	if prev != 100 {
		p.failf("%s: the last step is %d, want 100: a release ends with all traffic on the new slot", key, prev)
		return def
	}
	return steps
}

// CheckSteps reports the first step of the plan larger than maxStep, counting the first from 0.
// A plan that passes never needs --allow-jump or --force: a larger step is a reviewed change of
// maxStep, the one guard rail on step size, not a second knob that only the plan could turn.
func (r ReleaseConfig) CheckSteps(maxStep int) error {
	prev := 0
	for _, s := range r.Steps {
		if s-prev > maxStep {
			return fmt.Errorf("releaseSteps: the step from %d to %d is %d points, more than maxStep %d; add a step in between or raise maxStep", prev, s, s-prev, maxStep)
		}
		prev = s
	}
	return nil
}

// decimal reads a plain decimal number in lo..hi, lo itself only when withLo; exponents, signs,
// NaN and infinities are rejected, so what the reviewer reads is what the gate applies.
func (p *parser) decimal(key string, def, lo, hi float64, withLo bool, allowed string) float64 {
	raw, ok := p.src(key)
	if !ok {
		return def
	}
	s := strings.TrimSpace(raw)
	if !decimalRE.MatchString(s) {
		p.fail(key, raw, allowed)
		return def
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < lo || (v == lo && !withLo) || v > hi {
		p.fail(key, raw, allowed)
		return def
	}
	return v
}
