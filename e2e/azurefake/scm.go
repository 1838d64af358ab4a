package azurefake

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// AppServiceAPIVersion is the App Service REST version the facade answers: the one
// armappservice/v5 v5.0.0 sends.
const AppServiceAPIVersion = "2024-11-01"

// Deployment is one package pushed to an app's deployment host.
type Deployment struct {
	ID     string `json:"id"`
	App    string `json:"app"`
	SHA256 string `json:"sha256"`
	Bytes  int    `json:"bytes"`
	// Status is the deployment host's: 1 while building, 4 once deployed, 3 when it failed.
	Status     int    `json:"status"`
	StatusText string `json:"statusText"`
	// Reads counts the status reads; the deployment completes at the first one, so a client
	// that does not wait for it sees it building.
	Reads int `json:"reads"`
	// RoutePrefix is the package's host.json extensions.http.routePrefix, the Functions host's
	// "api" when it sets none; nil when host.json cannot be read.
	RoutePrefix *string `json:"routePrefix,omitempty"`
}

// The deployment host of a Flex app, as the Azure CLI uses it for `az functionapp deployment
// source config-zip` (Azure/azure-cli, appservice custom.py: enable_zip_deploy_flex,
// _check_zip_deployment_status_flex, _get_scm_url), the inconvenient parts first:
//   - it is found through ARM, as the site's host name of type Repository; the facade names it
//     <facade host>/scm/<app> where Azure has <app>.scm.azurewebsites.net;
//   - a bearer token is required;
//   - POST /api/publish takes the raw zip and answers 202 with the deployment's id, or 409
//     while another deployment of the app is in progress;
//   - the deployment is not done when the upload is: /api/deployments/latest says status 1
//     (building) at its first read and 4 (success) after, or 3 (failed) for a package without
//     host.json at its root, which the Functions host cannot load;
//   - a deployment is a site update (learn.microsoft.com, flex-consumption-site-updates: "A
//     site update occurs whenever you deploy code"): it restarts the app, noted on the call
//     with the share of traffic the app carried.

// siteBody answers WebAppsClient.Get for a function app: its host names, the deployment
// host among them.
func siteBody(res *Resource, facadeHost string) map[string]any {
	body := armBody(res)
	props, _ := body["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
		body["properties"] = props
	}
	// azure-native takes the user-assigned identities as a list of ids; ARM answers a map of
	// them (ManagedServiceIdentity.userAssignedIdentities, keyed by resource id).
	if id, ok := body["identity"].(map[string]any); ok {
		if list, ok := id["userAssignedIdentities"].([]any); ok {
			m := map[string]any{}
			for _, v := range list {
				if s, ok := v.(string); ok {
					m[s] = map[string]any{}
				}
			}
			id["userAssignedIdentities"] = m
		}
	}
	app := res.Name()
	host, _ := res.Properties["defaultHostName"].(string)
	props["hostNameSslStates"] = []any{
		map[string]any{"name": host, "hostType": "Standard", "sslState": "Disabled"},
		map[string]any{"name": facadeHost + "/scm/" + app, "hostType": "Repository", "sslState": "Disabled"},
	}
	return body
}

// serveSCM serves /scm/<app>/api/publish and /scm/<app>/api/deployments/latest.
func (a *ARM) serveSCM(w http.ResponseWriter, r *http.Request, app, rest string) {
	switch {
	case rest == "api/publish" && r.Method == http.MethodPost:
		a.publish(w, r, app)
	case rest == "api/deployments/latest" && r.Method == http.MethodGet:
		a.latest(w, app)
	default:
		http.NotFound(w, r)
	}
}

func (a *ARM) publish(w http.ResponseWriter, r *http.Request, app string) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sum := sha256.Sum256(raw)
	var id string
	err = a.Fake.Store.Update(func(c *Cloud) error {
		if d := c.Deployments[strings.ToLower(app)]; d != nil && d.Status == 1 {
			return fmt.Errorf("conflict")
		}
		var site *Resource
		for _, s := range c.ByType("azure-native:web:WebApp") {
			if strings.EqualFold(s.Name(), app) {
				site = s
			}
		}
		if site == nil {
			return fmt.Errorf("no app %s", app)
		}
		id = fmt.Sprintf("%s-%d", strings.ToLower(app), len(c.Calls))
		d := &Deployment{ID: id, App: app, SHA256: hex.EncodeToString(sum[:]), Bytes: len(raw), Status: 1, StatusText: "Building"}
		if !hasHostJSON(raw) {
			d.Status, d.StatusText = 3, "Failed: no host.json at the root of the package"
		} else {
			d.RoutePrefix = packageRoutePrefix(raw)
		}
		if c.Deployments == nil {
			c.Deployments = map[string]*Deployment{}
		}
		c.Deployments[strings.ToLower(app)] = d
		host, _ := site.Properties["defaultHostName"].(string)
		call := Call{Op: "deploy", Token: "azure-native:web:WebApp", Target: site.ID,
			Note: fmt.Sprintf("site update: restarted while carrying %d%% of the traffic", c.Share(host))}
		if c.SiteUpdateRestartMs > 0 {
			site.RestartedUntilMs = time.Now().Add(time.Duration(c.SiteUpdateRestartMs) * time.Millisecond).UnixMilli()
		}
		c.Calls = append(c.Calls, call)
		return nil
	})
	switch {
	case err != nil && err.Error() == "conflict":
		http.Error(w, "There may be an ongoing deployment.", http.StatusConflict)
	case err != nil:
		http.Error(w, err.Error(), http.StatusNotFound)
	default:
		// The package stays where the app's host loads it from (FunctionsHost), beside the
		// cloud file rather than in it.
		if err := a.Fake.Store.keepPackage(app, raw); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		_, _ = fmt.Fprintf(w, "%q", id)
	}
}

func (a *ARM) latest(w http.ResponseWriter, app string) {
	var d Deployment
	found := false
	err := a.Fake.Store.Update(func(c *Cloud) error {
		dep := c.Deployments[strings.ToLower(app)]
		if dep == nil {
			return nil
		}
		found = true
		d = *dep
		dep.Reads++
		if dep.Status == 1 {
			dep.Status, dep.StatusText = 4, "Success"
		}
		return nil
	})
	switch {
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	case !found:
		http.NotFound(w, nil)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"id": d.ID, "status": d.Status, "status_text": d.StatusText, "complete": d.Status != 1})
	}
}

func hasHostJSON(raw []byte) bool {
	z, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		return false
	}
	for _, f := range z.File {
		if f.Name == "host.json" {
			return true
		}
	}
	return false
}

// packageRoutePrefix reads the route prefix the Functions host serves a package's HTTP
// functions under: host.json's extensions.http.routePrefix (keys in any case, as the host's
// configuration reads them), or "api" when host.json sets none; nil when host.json does not
// parse.
func packageRoutePrefix(raw []byte) *string {
	z, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		return nil
	}
	for _, f := range z.File {
		if f.Name != "host.json" {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil
		}
		var doc map[string]any
		err = json.NewDecoder(rc).Decode(&doc)
		rc.Close()
		if err != nil {
			return nil
		}
		prefix := "api"
		node := any(doc)
		for _, key := range []string{"extensions", "http", "routePrefix"} {
			m, _ := node.(map[string]any)
			node = nil
			for k, v := range m {
				if strings.EqualFold(k, key) {
					node = v
				}
			}
		}
		if s, ok := node.(string); ok {
			prefix = strings.Trim(s, "/")
		}
		return &prefix
	}
	return nil
}

// PackageOf is the path of the package last deployed to app, as its host loads it.
func (s Store) PackageOf(app string) string {
	return filepath.Join(filepath.Dir(s.Path), "packages", strings.ToLower(app)+".zip")
}

func (s Store) keepPackage(app string, raw []byte) error {
	p := s.PackageOf(app)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, raw, 0o644)
}
