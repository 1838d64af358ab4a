package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/google/uuid"
)

// Names derives every Azure resource name from the prefix and a short hash of the project and
// stack, so names are stable across runs, unique per stack, and never hard-coded in scripts:
// the pipelines read them from stack outputs.
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

// StorageAccount is globally unique, 3..24 lower-case letters and digits.
func (n Names) StorageAccount() string {
	if n.cfg.StorageAccountName != "" {
		return n.cfg.StorageAccountName
	}
	return "st" + n.prefix + n.hash
}

// DeploymentContainer holds a slot's deployment packages.
func (n Names) DeploymentContainer(s Slot) string { return "app-package-" + string(s) }

// Workspace is the Log Analytics workspace.
func (n Names) Workspace() string { return n.base() + "-logs" }

// AppInsights is the Application Insights component.
func (n Names) AppInsights() string { return n.base() + "-appi" }

// Plan is a slot's FC1 plan.
func (n Names) Plan(s Slot) string { return n.base() + "-" + string(s) + "-plan" }

// FunctionApp is a slot's app; it is also the host name's first label, so globally unique.
func (n Names) FunctionApp(s Slot) string { return n.base() + "-" + string(s) }

// Identity is a slot's user-assigned identity.
func (n Names) Identity(s Slot) string { return n.base() + "-" + string(s) + "-id" }

// APIM is the API Management service: the reused one, or a globally unique new name.
func (n Names) APIM() string {
	if n.cfg.APIM.Reuse() {
		return n.cfg.APIM.ExistingName
	}
	return n.base() + "-apim"
}

// APIMResourceGroup is where the API Management service lives.
func (n Names) APIMResourceGroup() string {
	if n.cfg.APIM.Reuse() {
		return n.cfg.APIM.ExistingResourceGroup
	}
	return n.ResourceGroup()
}

// roleAssignmentNamespace scopes the deterministic role assignment ids to this project.
var roleAssignmentNamespace = uuid.MustParse("6f0c2a55-4c55-4a86-9d0e-5a1c0e7d2b11")

// RoleAssignment is a role assignment's name, which ARM wants as a GUID. It is derived from the
// stack, slot and role, so re-running never creates a second assignment.
func (n Names) RoleAssignment(s Slot, role string) string {
	return uuid.NewSHA1(roleAssignmentNamespace, []byte(n.base()+"/"+n.stack+"/"+string(s)+"/"+role)).String()
}
