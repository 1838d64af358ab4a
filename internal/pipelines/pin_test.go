package pipelines

import (
	"regexp"
	"strings"
	"testing"
)

// pinReader is the awk program that reads runtime.options.version out of a Pulumi.yaml where
// nothing is installed yet: install.sh, the Azure Pipelines template and the Pulumi Deployments
// pre-run command each carry a copy, since none can fetch the others before it knows the
// version. internal/dist's TestInstallResolvesThePin runs install.sh's copy on every spelling
// of a pin, with every awk the machine has.
// installScript is the installer every reader of the pin is compared with.
const installScript = "actions/setup-slotless/install.sh"

var pinReader = regexp.MustCompile(`awk -v q="\[\\"'\]" '([^']+)'`)

// TestPinnedVersionReadersAgree keeps the copies equal, so what the tests prove of install.sh's
// holds for the others.
func TestPinnedVersionReadersAgree(t *testing.T) {
	copies := map[string]string{}
	find := func(where, text string) {
		m := pinReader.FindAllStringSubmatch(text, -1)
		if len(m) != 1 {
			t.Errorf("%s: got %d copies of the pin reader, want 1", where, len(m))
			return
		}
		copies[where] = m[0][1]
	}
	find(installScript, string(readFile(t, installScript)))
	tpl := decode[adoTemplate](t, adoSetup)
	find(adoSetup, tpl.Steps[0].script())
	var preRun []string
	for _, c := range preRunCommands(decode[deployProgram](t, deploySettings)) {
		preRun = append(preRun, strings.ReplaceAll(c, "$$", "$")) // Pulumi YAML's escape
	}
	find(deploySettings, strings.Join(preRun, "\n"))
	want := copies[installScript]
	for where, prog := range copies {
		if prog != want {
			t.Errorf("%s: its pin reader differs from %s's:\n%s\nwant\n%s", where, installScript, prog, want)
		}
	}
}
