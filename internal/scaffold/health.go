package scaffold

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
)

// healthDir holds, per runtime, the health function init writes, at the paths it is written
// to in the project folder. The files are copied as they are, not templated, so
// docs/bring-your-own-app.md can show them whole and a test keep the two equal.
const healthDir = "templates/health"

// healthJoins says, per runtime, how the written health function becomes part of the app.
var healthJoins = map[string]string{
	"node":            "src/functions/health.js is loaded with your other functions when package.json's main covers src/functions/*.js (the v4 model's default)",
	"python":          "register it in function_app.py: `from health_blueprint import bp as health_bp` and `app.register_functions(health_bp)`",
	"dotnet-isolated": "Health.cs compiles with the isolated worker project in this folder",
	"java":            "src/main/java/slotless/Health.java compiles into your function jar",
	"powershell":      "health/ is a function folder next to host.json",
}

// HealthFiles are the health function of a runtime: each file's path in the project folder and
// its content.
func HealthFiles(runtime string) ([]File, error) {
	root := path.Join(healthDir, runtime)
	var files []File
	err := fs.WalkDir(templates, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := fs.ReadFile(templates, p)
		if err != nil {
			return err
		}
		files = append(files, File{Path: p[len(root)+1:], Content: raw})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("health function of %s: %w", runtime, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("health function of %s: none", runtime)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}
