package stack

import (
	"fmt"
	"slices"
	"strings"
)

// Runtime is the language stack both function apps run (functionAppConfig.runtime). Both
// slots always run the same one, so changing it changes both apps: a reviewed infrastructure
// change, which plan --against flags on the live slot.
type Runtime struct {
	// Name is functionAppConfig.runtime.name: one of RuntimeNames.
	Name string
	// Version is functionAppConfig.runtime.version, one of FlexRuntimes[Name].
	Version string
}

// FlexRuntime is one language stack Flex Consumption offers.
type FlexRuntime struct {
	// Versions are the runtime.version strings that have a Flex Consumption (FC1) entry.
	Versions []string
	// Default is the version ARM marks as the default, used when functionRuntimeVersion is
	// not set.
	Default string
}

// FlexRuntimes are the language stacks and versions Flex Consumption offers, as ARM's
// functionAppStacks API lists them for FC1 (what `Get-AzFunctionAppFlexConsumptionRuntime`
// reads). Taken from the responses Az.Functions records for its tests
// (Azure/azure-powershell src/Functions/Functions.Autorest/custom/FunctionsStackFlexData/
// EastAsia/{dotnet,node,python,java,powershell,custom}.json); the list is per region and
// changes, so a version Azure adds later is refused here until this list learns it. Python 3.13
// is marked preview there; .NET 10.0's display name says preview.
var FlexRuntimes = map[string]FlexRuntime{
	"dotnet-isolated": {Versions: []string{"8.0", "9.0", "10.0"}, Default: "8.0"},
	"node":            {Versions: []string{"20", "22"}, Default: "22"},
	"python":          {Versions: []string{"3.10", "3.11", "3.12", "3.13"}, Default: "3.12"},
	"java":            {Versions: []string{"17", "21"}, Default: "17"},
	"powershell":      {Versions: []string{"7.4"}, Default: "7.4"},
	"custom":          {Versions: []string{"1.0"}, Default: "1.0"},
}

// RuntimeNames are the runtime names functionRuntime accepts, in the order the docs list them.
var RuntimeNames = []string{"dotnet-isolated", "node", "python", "java", "powershell", "custom"}

// runtime reads functionRuntime and functionRuntimeVersion. The defaults are the sample's
// custom handler, 1.0.
func (p *parser) runtime() Runtime {
	name := p.oneOf("functionRuntime", "custom", RuntimeNames)
	if p.failed("functionRuntime") {
		return Runtime{Name: "custom", Version: "1.0"}
	}
	flex := FlexRuntimes[name]
	raw, ok := p.src("functionRuntimeVersion")
	if !ok {
		return Runtime{Name: name, Version: flex.Default}
	}
	version := strings.TrimSpace(raw)
	if !slices.Contains(flex.Versions, version) {
		p.failf("functionRuntimeVersion: %q is not a Flex Consumption version of %s, want one of %s", raw, name, strings.Join(flex.Versions, ", "))
		return Runtime{Name: name, Version: flex.Default}
	}
	return Runtime{Name: name, Version: version}
}

// String is the runtime as the docs write it, "node 22".
func (r Runtime) String() string { return fmt.Sprintf("%s %s", r.Name, r.Version) }
