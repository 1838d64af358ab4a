// Command slotless is the release tool of the slotless stack. Its subcommands share one
// implementation between laptops and pipelines:
//
//	slotless plan [--stack dev] [--set key=value]... [--json]
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// usageError is bad command-line input: exit code 2, as flag parsing does.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `usage: slotless <command> [flags]

commands:
  plan    print the desired state of a stack, offline, under Pulumi's mock runtime
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "plan":
		err = planCmd(args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "slotless: unknown command %q\n%s", args[0], usage)
		return 2
	}
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "slotless:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}
