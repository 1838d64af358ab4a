// Command slotless is the release tool of the slotless stack. Its subcommands share one
// implementation between laptops and pipelines:
//
//	slotless plan [--stack dev] [--set key=value]... [--json] [--against REV|FILE [--markdown]]
//	slotless gate health|metrics --slot green|blue ...
//	slotless shift --slot blue --to 10 | promote --slot blue | rollback --slot blue
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
  plan      print the desired state of a stack, offline, under Pulumi's mock runtime;
            with --against REV|FILE, review a config change and its guard rails
  gate      health|metrics: the release gates of one slot
  shift     set one slot's share of traffic (--slot, --to), guarded, then pulumi up
  promote   shift a slot to 100%
  rollback  shift a slot back to 0%; never blocked
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
	case "gate":
		err = gateCmd(args[1:], stdout)
	case "shift", "promote", "rollback":
		err = releaseCmd(args[0], args[1:], stdout)
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
