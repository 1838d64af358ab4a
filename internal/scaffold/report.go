package scaffold

import (
	"fmt"
	"io"
	"strings"
)

// firstVersion is the version the next steps build the first package as.
const firstVersion = "v0.1.0"

// Print tells what init wrote and kept, how the health function joins the app, and the next
// steps to a first release, in a few lines.
func (r Result) Print(w io.Writer) {
	o := r.Options
	fmt.Fprintf(w, "slotless init: project %s, stack %s, %s %s, CI %s, slotless %s, in %s\n", o.Project, o.Stack, o.Runtime, o.RuntimeVersion, o.CI, o.Version, o.Dir)
	if o.CI != CINone && o.Root != o.Dir {
		fmt.Fprintf(w, "the CI callers go to the root of the git repository that holds the project, %s, and work in %s\n", o.Root, o.WorkDir())
	}
	if len(r.Wrote) > 0 {
		fmt.Fprintln(w, "wrote:")
		for _, p := range r.Wrote {
			fmt.Fprintln(w, "  "+p)
		}
	}
	if len(r.Kept) > 0 {
		fmt.Fprintln(w, "kept (already there, the same):")
		for _, p := range r.Kept {
			fmt.Fprintln(w, "  "+p)
		}
	}
	fmt.Fprintf(w, "health function: %s; it reads the %s file the build writes.\n", healthJoins[o.Runtime], VersionFile)

	steps := []string{
		"pulumi login, then: pulumi stack init " + o.Stack,
		`pulumi config set --secret pinToken "$(openssl rand -hex 24)"`,
		"pulumi up   (Pulumi runs the program through slotless " + o.Version + ", found on PATH as pulumi-language-slotless)",
		// The build runs in a subshell, as the pipelines run it: its cd stays there.
		"build the first package, " + firstVersion + ", and deploy it to the idle slot, blue:\n" + strings.Join([]string{
			"(export VERSION=" + firstVersion + " && " + o.BuildCommand + ")",
			`export SLOTLESS_PIN_TOKEN="$(pulumi config get pinToken)"`,
			fmt.Sprintf("slotless deploy --stack %s --slot blue --package %s --version %s", o.Stack, o.Package, firstVersion),
		}, "\n"),
		fmt.Sprintf("slotless release --stack %s --slot blue --version %s", o.Stack, firstVersion),
	}
	fmt.Fprintln(w, "next, in the project folder:")
	for i, s := range steps {
		fmt.Fprintf(w, "  %d. %s\n", i+1, strings.ReplaceAll(s, "\n", "\n       "))
	}
	switch o.CI {
	case CIGitHub:
		fmt.Fprintf(w, "then a tag %s-v0.2.0 releases through %s-%s.yml.\n", o.Stack, ".github/workflows/slotless", o.Stack)
	case CIAzureDevOps:
		fmt.Fprintf(w, "then create a pipeline from each azure-pipelines/slotless-%s-*.yml; a tag %s-v0.2.0 releases.\n", o.Stack, o.Stack)
	}
}
