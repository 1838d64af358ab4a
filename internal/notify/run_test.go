package notify

import "testing"

func TestRunLink(t *testing.T) {
	for _, tt := range []struct {
		name      string
		env       map[string]string
		url, text string
		actor     string
	}{
		{"outside CI", map[string]string{}, "", "", ""},
		{"GitHub Actions", map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "contoso/orders", "GITHUB_RUN_ID": "42", "GITHUB_ACTOR": "octocat"},
			"https://github.com/contoso/orders/actions/runs/42", "GitHub Actions run 42", "octocat"},
		{"GitHub Enterprise Server", map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://git.contoso.com/", "GITHUB_REPOSITORY": "ops/orders", "GITHUB_RUN_ID": "7"},
			"https://git.contoso.com/ops/orders/actions/runs/7", "GitHub Actions run 7", ""},
		{"GitHub without a run id: no half-made link", map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "contoso/orders", "GITHUB_ACTOR": "octocat"},
			"", "", "octocat"},
		{"Azure Pipelines, a project with a space", map[string]string{"TF_BUILD": "True", "SYSTEM_COLLECTIONURI": "https://dev.azure.com/contoso/", "SYSTEM_TEAMPROJECT": "Orders Team", "BUILD_BUILDID": "1234", "BUILD_BUILDNUMBER": "20261204.3", "BUILD_REQUESTEDFOR": "Ada Lovelace"},
			"https://dev.azure.com/contoso/Orders%20Team/_build/results?buildId=1234", "Azure Pipelines run 20261204.3", "Ada Lovelace"},
		{"Azure Pipelines with an http collection: no link", map[string]string{"TF_BUILD": "True", "SYSTEM_COLLECTIONURI": "http://tfs.local/", "SYSTEM_TEAMPROJECT": "Orders", "BUILD_BUILDID": "1"},
			"", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			link, actor := RunLink(func(k string) string { return tt.env[k] })
			if actor != tt.actor {
				t.Errorf("actor: got %q, want %q", actor, tt.actor)
			}
			switch {
			case tt.url == "" && link != nil:
				t.Errorf("got link %+v, want none", link)
			case tt.url != "" && (link == nil || link.URL != tt.url || link.Text != tt.text):
				t.Errorf("got link %+v, want %s (%s)", link, tt.url, tt.text)
			}
		})
	}
}
