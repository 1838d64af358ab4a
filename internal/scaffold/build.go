package scaffold

import (
	"fmt"
	"strings"
)

// VersionFile is the file every default build writes into the package root, holding the
// version the pipeline computed (VERSION), and the health function of every runtime reads.
//
// Why a file, for every runtime, and not each toolchain's own version: the pipelines compute
// versions such as v1.2.0 (from a tag) and run42.abc1234 (a manual run), and the health gate
// expects exactly that string back. The toolchains' version fields refuse them: .NET's
// -p:Version says "not a valid version string" to both, `npm version` takes semver only, and
// Python and PowerShell packages have no version field at all. A file takes any string, is
// written the same way by every build, and is read the same way by every health function, so
// what the gate compares is what the pipeline computed, byte for byte.
const VersionFile = "VERSION"

// Build is a runtime's default package build: a shell command run in the project folder with
// VERSION in the environment, and the zip it writes there.
type Build struct {
	Command string
	Package string
}

// DefaultPackage is the zip every default build writes, relative to the project folder.
const DefaultPackage = "app.zip"

// requireVersion starts every default build: without VERSION there is nothing to stamp, and a
// package that would answer the health gate with an empty version must not be built.
const requireVersion = `: "${VERSION:?set VERSION to the version the health gate expects}"`

// stampVersion writes VERSION into a folder that becomes the package root.
func stampVersion(dir string) string {
	return fmt.Sprintf(`printf '%%s\n' "$VERSION" > %s`, pathIn(dir, VersionFile))
}

// zipProject zips the project folder itself as the package, leaving out what is not the app:
// git and CI files, the Pulumi project and stack files, local settings, and the zip itself
// (removed first, since zip would otherwise add to an old one).
func zipProject(extra ...string) string {
	excludes := append([]string{"'.git/*'", "'.github/*'", "'azure-pipelines/*'", "'Pulumi.*'", "'local.settings.json'"}, extra...)
	return "rm -f " + DefaultPackage + " && zip -qr " + DefaultPackage + " . -x " + strings.Join(excludes, " ")
}

// zipFolder zips a build's output folder, whose contents are the package root.
func zipFolder(dir string) string {
	return "rm -f " + DefaultPackage + " && cd " + dir + " && zip -qr " + strings.Repeat("../", strings.Count(dir, "/")+1) + DefaultPackage + " ."
}

func pathIn(dir, file string) string {
	if dir == "." {
		return file
	}
	return dir + "/" + file
}

// DefaultBuild is the default build of a runtime at a version. Each writes the VERSION file
// into the package root, which the runtime's health function reads (see VersionFile).
func DefaultBuild(runtime, version string) Build {
	var steps []string
	switch runtime {
	case "node":
		// The v4 programming model: the app is the project folder, with its production
		// dependencies; a TypeScript app's "build" script compiles it.
		steps = []string{"npm ci", "npm run build --if-present", "npm prune --omit=dev", stampVersion("."), zipProject()}
	case "python":
		// Flex Consumption runs the dependencies in .python_packages/lib/site-packages as they
		// are in the zip, so they are fetched as Linux wheels for the app's Python version,
		// whatever Python and platform run the build.
		pip := "python3 -m pip install --disable-pip-version-check -q --target .python_packages/lib/site-packages" +
			" --implementation cp --python-version " + version +
			" --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 --only-binary=:all: -r requirements.txt"
		steps = []string{"rm -rf .python_packages", pip, stampVersion("."), zipProject("'.venv/*'", "'*__pycache__*'")}
	case "dotnet-isolated":
		// bin/publish is under bin/, which the SDK's default globs leave out of the build.
		steps = []string{"rm -rf bin/publish", "dotnet publish -c Release -o bin/publish", stampVersion("bin/publish"), zipFolder("bin/publish")}
	case "java":
		// azure-functions-maven-plugin stages the app in target/azure-functions/<app name>/.
		steps = []string{"mvn -B clean package", "cd target/azure-functions/*", stampVersion("."), "rm -f ../../../" + DefaultPackage, "zip -qr ../../../" + DefaultPackage + " ."}
	case "powershell":
		// Nothing to compile: the function folders and host.json are the package.
		steps = []string{stampVersion("."), zipProject()}
	default:
		return Build{}
	}
	return Build{Command: strings.Join(append([]string{requireVersion}, steps...), " && "), Package: DefaultPackage}
}
