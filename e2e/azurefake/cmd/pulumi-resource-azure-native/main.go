// Command pulumi-resource-azure-native is the engine suite's stand-in for the azure-native
// provider 3.28.0. Its plugin archive holds this binary and schema.json, the package schema the
// program's SDK is generated from; the test's cloud file is named by $AZUREFAKE_CLOUD.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/slotless/slotless/e2e/azurefake"
)

func main() {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pulumi-resource-azure-native:", err)
		os.Exit(1)
	}
	schema, err := azurefake.LoadSchema(filepath.Join(filepath.Dir(exe), "schema.json"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "pulumi-resource-azure-native:", err)
		os.Exit(1)
	}
	err = provider.Main(azurefake.Name, func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return azurefake.NewServer(schema)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "pulumi-resource-azure-native:", err)
		os.Exit(1)
	}
}
