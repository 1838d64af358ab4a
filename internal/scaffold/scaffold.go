// Package scaffold is `slotless init`: the files of a team repository, rendered from the
// templates it embeds and checked before any is written. A team's repository holds its app,
// a Pulumi.yaml that names the slotless runtime at a pinned version, a stack file per stack,
// a few lines of CI calling slotless's reusable pipelines at that version, and the health
// function the release's gates reach; nothing of slotless's source.
package scaffold

import "fmt"

// Result is one init: its inputs and what it wrote and kept.
type Result struct {
	Options Options
	Outcome
}

// Init renders the files of o, checks them (Check) and writes them into the project folder,
// never overwriting one (Write).
func Init(o Options) (Result, error) {
	files, err := Render(o)
	if err != nil {
		return Result{}, err
	}
	if err := Check(o, files); err != nil {
		return Result{}, fmt.Errorf("%w (nothing was written)", err)
	}
	out, err := Write(o.Dir, files)
	if err != nil {
		return Result{}, err
	}
	return Result{Options: o, Outcome: out}, nil
}
