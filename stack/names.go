package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Names derives the names the program chooses itself. A name that lives in a resource group
// (the group itself, plans, identities, Log Analytics, Application Insights) comes from the
// prefix and a short hash of the project and stack: stable across runs and never hard-coded in
// scripts, since the pipelines read names from stack outputs.
//
// A name that is global across Azure (the storage account, each app's *.azurewebsites.net host,
// a created API Management service) is not chosen here: the same project and stack on another
// subscription would hash to the same name and be refused. The program leaves those name inputs
// out and azure-native names the resource, as it does for any resource without one: its logical
// name plus eight random hex characters, generated once and kept in state. Everything downstream
// reads the resource's name output.
type Names struct {
	prefix string
	hash   string
	stack  string
	cfg    *Config
}

// NewNames returns the names for one stack.
func NewNames(project, stack string, cfg *Config) Names {
	sum := sha256.Sum256([]byte(project + "/" + stack + "/" + cfg.Prefix))
	return Names{prefix: cfg.Prefix, hash: hex.EncodeToString(sum[:])[:6], stack: stack, cfg: cfg}
}

func (n Names) base() string { return n.prefix + "-" + n.hash }

// ResourceGroup is the group everything lives in.
func (n Names) ResourceGroup() string {
	if n.cfg.ResourceGroupName != "" {
		return n.cfg.ResourceGroupName
	}
	return fmt.Sprintf("%s-%s-rg", n.prefix, n.stack)
}

// StorageAccount is the storageAccountName override, or "" to let azure-native name the account
// after its logical name, "storage" plus eight hex characters: 15 lower-case letters and digits,
// within the 3..24 a storage account name allows.
func (n Names) StorageAccount() string { return n.cfg.StorageAccountName }

// DeploymentContainer holds a slot's deployment packages.
func (n Names) DeploymentContainer(s Slot) string { return "app-package-" + string(s) }

// Workspace is the Log Analytics workspace.
func (n Names) Workspace() string { return n.base() + "-logs" }

// AppInsights is the stack's shared Application Insights component, which both slots reported
// to before each had its own; it stays while a slot that carries traffic still reports there.
func (n Names) AppInsights() string { return n.base() + "-appi" }

// SlotAppInsights is a slot's own Application Insights component.
func (n Names) SlotAppInsights(s Slot) string { return n.base() + "-" + string(s) + "-appi" }

// Plan is a slot's FC1 plan.
func (n Names) Plan(s Slot) string { return n.base() + "-" + string(s) + "-plan" }

// GatewayIdentity is the user-assigned identity API Management calls the apps with, under
// gatewayAudience.
func (n Names) GatewayIdentity() string { return n.base() + "-gateway-id" }

// Identity is a slot's user-assigned identity.
func (n Names) Identity(s Slot) string { return n.base() + "-" + string(s) + "-id" }

// APIM is the reused API Management service's name, or "" when the stack creates one, which
// azure-native names "apim" plus eight hex characters.
func (n Names) APIM() string { return n.cfg.APIM.ExistingName }

// APIMResourceGroup is where the API Management service lives.
func (n Names) APIMResourceGroup() string {
	if n.cfg.APIM.Reuse() {
		return n.cfg.APIM.ExistingResourceGroup
	}
	return n.ResourceGroup()
}

// APIMIDs are the ids the stack gives its children of the API Management service: backends,
// the pool, named values and the API. Children of one service share one namespace per kind, so
// in a reused service, which other stacks and teams may share, they must not be the ids another
// stack of this project uses.
//
// In a service the stack creates, the ids are fixed (green-backend, green-blue-pool,
// current-slot-name, green-function-key, slotless-pin-token, the API slotless): nothing else
// lives there. In a reused one, each starts with a scope derived from apiPath and a dash
// (orders-green-backend, orders-current-slot-name, ...), and the API's id is the scope itself.
// apiPath is what API Management already requires to be unique per service (two APIs cannot
// share a path), so two stacks that can share a service have different scopes; project and stack
// would not do, since two teams deploying this repository's dev stack have the same ones.
type APIMIDs struct{ scope string }

// maxScope bounds the scope so every id stays within APIM's 80 characters for a backend id.
const maxScope = 40

// NewAPIMIDs returns the child ids for a config.
func NewAPIMIDs(cfg *Config) APIMIDs {
	if !cfg.APIM.Reuse() {
		return APIMIDs{}
	}
	// apiPath allows letters, digits, '-', '_' and '/'. '/' is not allowed in a named value's
	// display name, and '.' is not allowed in a path, so writing '/' as '.' keeps two different
	// paths two different scopes.
	scope := strings.ReplaceAll(cfg.API.Path, "/", ".")
	if len(scope) > maxScope {
		sum := sha256.Sum256([]byte(strings.ToLower(cfg.API.Path)))
		scope = scope[:maxScope-9] + "." + hex.EncodeToString(sum[:])[:8]
	}
	return APIMIDs{scope: scope}
}

// Scoped reports whether the ids carry a scope, that is, the service is reused.
func (i APIMIDs) Scoped() bool { return i.scope != "" }

func (i APIMIDs) id(base string) string {
	if i.scope == "" {
		return base
	}
	return i.scope + "-" + base
}

// Backend is a slot's single backend id.
func (i APIMIDs) Backend(s Slot) string { return i.id(s.BackendID()) }

// Pool is the weighted pool's backend id.
func (i APIMIDs) Pool() string { return i.id(PoolID) }

// CurrentSlot is the id and display name of the named value recording the live slot.
func (i APIMIDs) CurrentSlot() string { return i.id(CurrentSlotNamedValue) }

// FunctionKey is the id and display name of the secret named value holding a slot's key.
func (i APIMIDs) FunctionKey(s Slot) string { return i.id(functionKeyName(s)) }

// GatewayClientID is the named value holding the gateway identity's client id.
func (i APIMIDs) GatewayClientID() string { return i.id(GatewayClientIDNamedValue) }

// PinToken is the id and display name of the secret named value holding the pinning token.
func (i APIMIDs) PinToken() string { return i.id(PinTokenNamedValue) }

// API is the API's id.
func (i APIMIDs) API() string {
	if i.scope == "" {
		return APIID
	}
	return i.scope
}
