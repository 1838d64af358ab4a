package scaffold

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Prompter asks for the inputs not given on the command line, one line each. It reads answers
// from any reader, so tests feed it without a terminal; the command uses it only when stdin is
// one.
type Prompter struct {
	in  *bufio.Reader
	out io.Writer
}

// NewPrompter asks on out and reads answers from in.
func NewPrompter(in io.Reader, out io.Writer) *Prompter {
	return &Prompter{in: bufio.NewReader(in), out: out}
}

// resolve asks q until an answer passes its check. An empty answer takes the default; with no
// default it is asked again, unless the input is optional. The end of the input before a valid
// answer is an *InputError naming the flag, so a script that pipes too few answers fails
// plainly instead of taking a default nobody chose.
func (p *Prompter) resolve(q question, o *Options, def string) error {
	label := q.prompt
	if q.choices != nil {
		label += " (" + strings.Join(q.choices(o), ", ") + ")"
	}
	for {
		if def != "" {
			fmt.Fprintf(p.out, "%s [%s]: ", label, def)
		} else {
			fmt.Fprintf(p.out, "%s: ", label)
		}
		line, err := p.in.ReadString('\n')
		answer := strings.TrimSpace(line)
		if err != nil && (answer == "" || !errors.Is(err, io.EOF)) {
			fmt.Fprintln(p.out)
			return &InputError{Flag: q.flag, Err: fmt.Errorf("no answer to %q: %w", q.prompt, err)}
		}
		if answer == "" {
			answer = def
		}
		if answer == "" && !q.optional {
			fmt.Fprintf(p.out, "  a value is required (or pass --%s)\n", q.flag)
			continue
		}
		if cerr := q.set(o, answer); cerr != nil {
			fmt.Fprintf(p.out, "  %v\n", cerr)
			if err != nil {
				return &InputError{Flag: q.flag, Err: cerr}
			}
			continue
		}
		return nil
	}
}
