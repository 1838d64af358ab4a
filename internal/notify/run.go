package notify

import (
	"net/url"
	"strings"
)

// RunLink is the CI run a command runs in, whose page holds the report (both pipelines publish
// release.md as the run's summary: GitHub's job summary, Azure Pipelines' Extensions tab), and
// who started it; nil and "" outside CI. It reads the variables each CI system sets in every
// step:
//
//   - GitHub Actions: GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID, started by
//     GITHUB_ACTOR;
//   - Azure Pipelines: SYSTEM_COLLECTIONURI + SYSTEM_TEAMPROJECT/_build/results?buildId=
//     BUILD_BUILDID, requested by BUILD_REQUESTEDFOR.
//
// A link is given only when every part is there and the server is an https URL, so a message
// never links somewhere half-made.
func RunLink(getenv func(string) string) (*Link, string) {
	if getenv("GITHUB_ACTIONS") == "true" {
		server, repo, id := getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"), getenv("GITHUB_RUN_ID")
		actor := getenv("GITHUB_ACTOR")
		if !httpsURL(server) || repo == "" || !digits(id) {
			return nil, actor
		}
		return &Link{URL: strings.TrimSuffix(server, "/") + "/" + repo + "/actions/runs/" + id, Text: "GitHub Actions run " + id}, actor
	}
	if strings.EqualFold(getenv("TF_BUILD"), "true") {
		collection, project, id := getenv("SYSTEM_COLLECTIONURI"), getenv("SYSTEM_TEAMPROJECT"), getenv("BUILD_BUILDID")
		actor := getenv("BUILD_REQUESTEDFOR")
		if !httpsURL(collection) || project == "" || !digits(id) {
			return nil, actor
		}
		text := "Azure Pipelines run " + id
		if n := getenv("BUILD_BUILDNUMBER"); n != "" {
			text = "Azure Pipelines run " + n
		}
		link := strings.TrimSuffix(collection, "/") + "/" + url.PathEscape(project) + "/_build/results?buildId=" + id
		return &Link{URL: link, Text: text}, actor
	}
	return nil, ""
}

func httpsURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != ""
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
