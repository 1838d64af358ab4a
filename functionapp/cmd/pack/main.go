// Command pack writes the Flex Consumption deployment zip for the function
// app: host.json, every function folder's function.json, and the executable
// named by host.json with its executable bit set.
//
//	go run ./functionapp/cmd/pack -src functionapp -exe functionapp/build/app -out functionapp/dist/functionapp.zip
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/slotless/slotless/functionapp/internal/pack"
)

func main() {
	src := flag.String("src", ".", "directory holding host.json and the function folders")
	exe := flag.String("exe", "build/app", "custom handler executable to package")
	out := flag.String("out", "dist/functionapp.zip", "zip file to write")
	flag.Parse()

	names, err := pack.WriteFile(*out, *src, *exe)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pack: %v\n", err)
		os.Exit(1)
	}
	st, err := os.Stat(*out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pack: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s (%d bytes)\n", *out, st.Size())
	for _, n := range names {
		fmt.Printf("  %s\n", n)
	}
}
