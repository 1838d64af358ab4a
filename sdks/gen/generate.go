package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/blang/semver"
	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

// rootModule is the official import path of the SDK's root module, which holds utilities.
const rootModule = "github.com/pulumi/pulumi-azure-native-sdk/v3"

// pulumiSDKVersion is the Pulumi Go SDK the generated modules require.
const pulumiSDKVersion = "v3.274.1"

// goDirective matches the go directive of the Pulumi SDK the generated code builds against.
const goDirective = "1.26.6"

// rootPackages live in the root module, as in the published SDK: utilities, and config, which
// programs import as github.com/pulumi/pulumi-azure-native-sdk/v3/config.
var rootPackages = map[string]bool{"utilities": true, "config": true, "internal": true}

// noLoader refuses every package lookup: the subset references no other Pulumi package,
// and BindSpec insists on a non-nil loader.
type noLoader struct{}

func (noLoader) LoadPackage(pkg string, _ *semver.Version) (*schema.Package, error) {
	return nil, fmt.Errorf("schema references package %q, which the subset does not carry", pkg)
}

func (l noLoader) LoadPackageV2(_ context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
	return l.LoadPackage(d.Name, d.Version)
}

// generate binds the schema and writes the Go SDK below out: one Go module per azure-native
// module plus the root module, each with its go.mod and pulumi-plugin.json.
func generate(schemaPath, out string) error {
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		return fmt.Errorf("read schema: %w", err)
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return fmt.Errorf("parse schema %s: %w", schemaPath, err)
	}
	pkg, diags, err := schema.BindSpec(spec, noLoader{}, schema.ValidationOptions{})
	if err != nil {
		return fmt.Errorf("bind schema: %w", err)
	}
	if diags.HasErrors() {
		return fmt.Errorf("bind schema: %s", diags.Error())
	}
	files, err := gogen.GeneratePackage("pulumi-language-go", pkg, nil)
	if err != nil {
		return fmt.Errorf("generate go sdk: %w", err)
	}

	// The generator roots its output at the package name; the SDK's modules live one level up.
	prefix := ""
	for name := range files {
		if strings.HasSuffix(name, "pulumi-plugin.json") {
			prefix = strings.TrimSuffix(name, "pulumi-plugin.json")
		}
	}
	plugin, ok := files[prefix+"pulumi-plugin.json"]
	if !ok {
		return errors.New("generator wrote no pulumi-plugin.json")
	}

	if err := clean(out); err != nil {
		return err
	}
	modules := map[string]bool{}
	for name, body := range files {
		rel := strings.TrimPrefix(name, prefix)
		if rel == ".gitattributes" {
			continue
		}
		if dir, _, found := strings.Cut(rel, "/"); found && !rootPackages[dir] {
			modules[dir] = true
		}
		if err := write(filepath.Join(out, rel), body); err != nil {
			return err
		}
	}

	if err := write(filepath.Join(out, "go.mod"), goMod(rootModule, false)); err != nil {
		return err
	}
	names := make([]string, 0, len(modules))
	for m := range modules {
		names = append(names, m)
	}
	sort.Strings(names)
	for _, m := range names {
		path := "github.com/pulumi/pulumi-azure-native-sdk/" + m + "/v3"
		if err := write(filepath.Join(out, m, "go.mod"), goMod(path, true)); err != nil {
			return err
		}
		// Each published module carries the plugin manifest, so the engine finds the provider
		// version whichever module a program imports.
		if err := write(filepath.Join(out, m, "pulumi-plugin.json"), plugin); err != nil {
			return err
		}
	}
	fmt.Printf("generated %d files in %d modules under %s\n", len(files), len(names)+1, out)
	return nil
}

// goMod renders a module's go.mod. Module modules need the root for utilities.
func goMod(path string, needsRoot bool) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "module %s\n\ngo %s\n\nrequire (\n", path, goDirective)
	if needsRoot {
		fmt.Fprintf(&b, "\t%s v3.28.0\n", rootModule)
	}
	fmt.Fprintf(&b, "\tgithub.com/blang/semver v3.5.1+incompatible\n")
	fmt.Fprintf(&b, "\tgithub.com/pulumi/pulumi/sdk/v3 %s\n)\n", pulumiSDKVersion)
	return b.Bytes()
}

// clean removes earlier output but keeps the hand-written schema, so regeneration leaves
// nothing stale behind.
func clean(out string) error {
	entries, err := os.ReadDir(out)
	if err != nil {
		return fmt.Errorf("read %s: %w", out, err)
	}
	for _, e := range entries {
		if e.Name() == "schema.json" || e.Name() == "README.md" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(out, e.Name())); err != nil {
			return fmt.Errorf("clean %s: %w", e.Name(), err)
		}
	}
	return nil
}

func write(path string, body []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("mkdir for %s: %w", path, err)
	}
	if err := os.WriteFile(path, body, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
