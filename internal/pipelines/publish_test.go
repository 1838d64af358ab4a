package pipelines

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// checkPublish: a pushed v* tag is built with make dist and published as that tag's release,
// with nothing more than the right to write releases.
func checkPublish(w *workflow) error {
	if got := slices.Sorted(maps.Keys(w.On)); !slices.Equal(got, []string{"push"}) {
		return fmt.Errorf("on: got %v, want push (of tags) only", got)
	}
	var push struct {
		Tags     []string `yaml:"tags"`
		Branches []string `yaml:"branches"`
	}
	n := w.On["push"]
	if err := n.Decode(&push); err != nil {
		return err
	}
	if !slices.Equal(push.Tags, []string{"v*"}) || len(push.Branches) > 0 {
		return fmt.Errorf("on.push: got tags %v, branches %v, want tags [v*] only", push.Tags, push.Branches)
	}
	if want := map[string]string{"contents": "write"}; !maps.Equal(w.Permissions, want) {
		return fmt.Errorf("permissions: got %v, want %v", w.Permissions, want)
	}
	var steps []ghStep
	for _, j := range w.Jobs {
		if j.Permissions != nil {
			return errors.New("a job sets its own permissions: want the workflow's contents: write alone")
		}
		steps = append(steps, j.Steps...)
	}
	build, check, release := -1, -1, -1
	for i, s := range steps {
		switch {
		case strings.Contains(s.Run, `make dist VERSION="$GITHUB_REF_NAME"`):
			build = i
		case strings.Contains(s.Run, "sha256sum -c SHA256SUMS"):
			check = i
		case strings.Contains(s.Run, `gh release create "$GITHUB_REF_NAME" dist/* --verify-tag`):
			release = i
			if s.Env["GH_TOKEN"] != "${{ github.token }}" {
				return fmt.Errorf("release step env GH_TOKEN: got %q, want ${{ github.token }}", s.Env["GH_TOKEN"])
			}
		}
	}
	if build < 0 || release < 0 || !(build < release) || (check >= 0 && !(build < check && check < release)) {
		return fmt.Errorf("steps: got make dist at %d, check at %d, gh release create at %d; want make dist, then the release of dist/* with --verify-tag", build, check, release)
	}
	return nil
}

func TestPublish(t *testing.T) {
	if err := checkPublish(decode[workflow](t, ghPublish)); err != nil {
		t.Error(err)
	}
	job := func(w *workflow) *ghJob {
		for _, j := range w.Jobs {
			return j
		}
		return nil
	}
	breaks := []struct {
		name   string
		break_ func(*workflow)
	}{
		{"on every push", func(w *workflow) {
			var n yaml.Node
			_ = yaml.Unmarshal([]byte("branches: [main]"), &n)
			w.On["push"] = *n.Content[0]
		}},
		{"on pull requests too", func(w *workflow) { w.On["pull_request"] = yaml.Node{} }},
		{"write-all", func(w *workflow) { w.Permissions["packages"] = "write" }},
		{"no dist", func(w *workflow) {
			j := job(w)
			j.Steps = slices.DeleteFunc(j.Steps, func(s ghStep) bool { return strings.Contains(s.Run, "make dist") })
		}},
		{"release before dist", func(w *workflow) { slices.Reverse(job(w).Steps) }},
		{"tag created by the release", func(w *workflow) {
			for i, s := range job(w).Steps {
				job(w).Steps[i].Run = strings.ReplaceAll(s.Run, " --verify-tag", "")
			}
		}},
	}
	for _, b := range breaks {
		t.Run(b.name, func(t *testing.T) {
			w := decode[workflow](t, ghPublish)
			b.break_(w)
			if err := checkPublish(w); err == nil {
				t.Errorf("after breaking: got nil, want an error")
			}
		})
	}
}
