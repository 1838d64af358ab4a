package release

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/slotless/slotless/internal/project"
	"github.com/slotless/slotless/stack"
)

// WeightsFromStackFile reads blueWeight (and greenWeight, if set) from a Pulumi.<stack>.yaml of
// the named project. Only the weights are read, so an otherwise incomplete file still yields
// them.
func WeightsFromStackFile(raw []byte, projectName string) (stack.Weights, error) {
	var f struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		return stack.Weights{}, fmt.Errorf("parse stack file: %w", err)
	}
	vals := map[string]string{}
	for _, k := range []string{"blueWeight", "greenWeight"} {
		if v, ok := f.Config[project.Key(projectName, k)]; ok {
			vals[k] = fmt.Sprint(v)
		}
	}
	blue, green := 0, -1
	if v, ok := vals["blueWeight"]; ok {
		if _, err := fmt.Sscanf(v, "%d", &blue); err != nil || blue < 0 || blue > 100 {
			return stack.Weights{}, fmt.Errorf("blueWeight: %q is not an integer 0..100", v)
		}
	}
	if v, ok := vals["greenWeight"]; ok {
		if _, err := fmt.Sscanf(v, "%d", &green); err != nil || green+blue != 100 {
			return stack.Weights{}, fmt.Errorf("greenWeight: %q does not sum to 100 with blueWeight %d", v, blue)
		}
	}
	return stack.Weights{Green: 100 - blue, Blue: blue}, nil
}

// maxHistory bounds how far back OriginFromGit looks.
const maxHistory = 500

// OriginFromGit finds the slot that was live when the release in progress at rev began: the
// slot that had all traffic in the newest revision of the stack file, at or before rev, where
// one slot had all of it. ok is false when git or the history cannot say.
func OriginFromGit(dir, rev, stackFile string) (origin stack.Slot, ok bool) {
	file, err := project.Load(dir)
	if err != nil {
		return "", false
	}
	out, err := git(dir, "log", "--format=%H", fmt.Sprintf("-n%d", maxHistory), rev, "--", stackFile)
	if err != nil {
		return "", false
	}
	for _, sha := range strings.Fields(out) {
		raw, err := git(dir, "show", sha+":"+stackFile)
		if err != nil {
			continue
		}
		w, err := WeightsFromStackFile([]byte(raw), file.Name)
		if err != nil {
			continue
		}
		if _, idle := w.Idle(); idle {
			return w.Live(), true
		}
	}
	return "", false
}

// Origin decides the origin of the release in progress at from: from itself when a slot is idle,
// else the history, else the slot with the larger share. The last is a guess, and says so.
func Origin(from stack.Weights, history func() (stack.Slot, bool)) (stack.Slot, string) {
	if _, idle := from.Idle(); idle {
		return from.Live(), "the live slot"
	}
	if history != nil {
		if s, ok := history(); ok {
			return s, "the slot live when this release began (from the stack file's git history)"
		}
	}
	return from.Live(), "the slot with the larger share (no history to tell when this release began)"
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// ShowFile returns a file as of a git revision.
func ShowFile(dir, rev, path string) ([]byte, error) {
	out, err := git(dir, "show", rev+":"+path)
	return []byte(out), err
}
