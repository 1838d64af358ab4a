// Command gen regenerates the subset azure-native Go SDK under sdks/azure-native with Pulumi's
// own Go code generator, and checks the schema subset against the published declarations.
//
//	gen generate -schema ../azure-native/schema.json -out ../azure-native
//	gen conform  -schema ../azure-native/schema.json -npm /path/to/unpacked/package
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/slotless/slotless/sdks/gen/conform"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gen generate|conform [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	schemaPath := fs.String("schema", "../azure-native/schema.json", "the schema subset")
	out := fs.String("out", "../azure-native", "where the SDK is written")
	npm := fs.String("npm", os.Getenv("AZURE_NATIVE_NPM_DIR"), "the unpacked @pulumi/azure-native package (its package/ folder)")
	_ = fs.Parse(os.Args[2:])

	switch os.Args[1] {
	case "generate":
		if err := generate(*schemaPath, *out); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	case "conform":
		if *npm == "" {
			fmt.Fprintln(os.Stderr, "gen conform: -npm (or AZURE_NATIVE_NPM_DIR) must name the unpacked @pulumi/azure-native package")
			os.Exit(2)
		}
		n, problems, err := conform.CheckFile(*schemaPath, *npm)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gen conform:", err)
			os.Exit(1)
		}
		for _, p := range problems {
			fmt.Println(p)
		}
		if len(problems) > 0 {
			fmt.Printf("conform: %d mismatches against the published declarations\n", len(problems))
			os.Exit(1)
		}
		fmt.Printf("conform: %d properties match the published declarations\n", n)
	default:
		fmt.Fprintf(os.Stderr, "gen: unknown command %q, want generate or conform\n", os.Args[1])
		os.Exit(2)
	}
}
