package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/appservice/armappservice/v5"
)

// SCMScope is the token scope of an app's deployment host: the App Service audience, which the
// Azure CLI asks for when it deploys to a Flex app (Azure/azure-cli#31988, "use the App Service
// audience (https://appservice.azure.com) instead of ARM"). Only Azure can confirm what a
// tenant's apps accept.
const SCMScope = "https://appservice.azure.com/.default"

// Defaults of a Deployer, the Azure CLI's for a Flex app (custom.py,
// _check_zip_deployment_status_flex: a read every second, about 450 tries).
const (
	DefaultPoll    = time.Second
	DefaultTimeout = 450 * time.Second
)

// SCMHost returns the app's deployment (Kudu) host, read through ARM: the host name of type
// Repository, as the Azure CLI's _get_scm_url finds it, never a name built by convention.
func SCMHost(ctx context.Context, sites *armappservice.WebAppsClient, resourceGroup, app string) (string, error) {
	site, err := sites.Get(ctx, resourceGroup, app, nil)
	if err != nil {
		return "", fmt.Errorf("read app %s: %w", app, err)
	}
	if site.Properties != nil {
		for _, h := range site.Properties.HostNameSSLStates {
			if h != nil && h.HostType != nil && *h.HostType == armappservice.HostTypeRepository && h.Name != nil && *h.Name != "" {
				return "https://" + *h.Name, nil
			}
		}
	}
	return "", fmt.Errorf("app %s has no deployment host (no host name of type Repository)", app)
}

// Deployer uploads packages to one app through its deployment host.
type Deployer struct {
	pl  runtime.Pipeline
	scm string
	// Poll is how often the deployment's status is read; Timeout bounds the wait.
	Poll, Timeout time.Duration
}

// NewDeployer is a Deployer for the app whose deployment host is scm, signed in with cred.
func NewDeployer(cred azcore.TokenCredential, scm string, opts *policy.ClientOptions) *Deployer {
	pl := runtime.NewPipeline("slotless", "", runtime.PipelineOptions{
		PerRetry: []policy.Policy{runtime.NewBearerTokenPolicy(cred, []string{SCMScope}, nil)},
	}, opts)
	return &Deployer{pl: pl, scm: strings.TrimSuffix(scm, "/"), Poll: DefaultPoll, Timeout: DefaultTimeout}
}

// Deployment statuses of the deployment host's /api/deployments answers, as the Azure CLI reads
// them for a Flex app (custom.py, _check_zip_deployment_status_flex).
const (
	statusFailed          = 3
	statusSuccess         = 4
	statusCancelled       = -1
	statusSuperseded      = 5
	statusPartiallyFailed = 6
)

// status is one answer of /api/deployments/latest.
type status struct {
	ID         string `json:"id"`
	Status     int    `json:"status"`
	StatusText string `json:"status_text"`
	Complete   bool   `json:"complete"`
}

// Deploy uploads the package with one deploy (POST /api/publish, the only deployment Flex
// Consumption supports) and waits until the deployment host says it completed, printing each
// change of its status to progress.
func (d *Deployer) Deploy(ctx context.Context, pkg Package, progress io.Writer) error {
	f, err := os.Open(pkg.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	req, err := runtime.NewRequest(ctx, http.MethodPost, d.scm+"/api/publish?RemoteBuild=false&Deployer=slotless")
	if err != nil {
		return err
	}
	if err := req.SetBody(streaming.NopCloser(f), "application/zip"); err != nil {
		return err
	}
	fmt.Fprintf(progress, "uploading %s (%d bytes, %d files) to %s/api/publish...\n", pkg.Path, pkg.Bytes, pkg.Entries, d.scm)
	resp, err := d.pl.Do(req)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusAccepted, http.StatusOK:
	case http.StatusConflict:
		return errors.New("upload: another deployment to this app is in progress (409); wait for it, then deploy again")
	default:
		return fmt.Errorf("upload: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	id := strings.Trim(strings.TrimSpace(string(body)), `"`)
	fmt.Fprintf(progress, "accepted (deployment %s); waiting for it to complete...\n", orUnknown(id))
	return d.wait(ctx, id, progress)
}

func orUnknown(s string) string {
	if s == "" {
		return "id not given"
	}
	return s
}

// wait reads /api/deployments/latest until the deployment completes, fails, or Timeout passes.
// An answer about another deployment (an earlier one, before this one is registered) is not
// this deployment's.
func (d *Deployer) wait(ctx context.Context, id string, progress io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	last := ""
	for {
		s, err := d.latest(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return fmt.Errorf("the deployment did not complete within %s: %w", d.Timeout, err)
		case err != nil:
			fmt.Fprintf(progress, "  deployment status not readable yet: %v\n", err)
		case id != "" && s.ID != id:
			// Not ours yet.
		default:
			if line := fmt.Sprintf("%d %s", s.Status, s.StatusText); line != last {
				fmt.Fprintf(progress, "  deployment %s: status %d %s\n", orUnknown(s.ID), s.Status, s.StatusText)
				last = line
			}
			switch s.Status {
			case statusSuccess:
				return nil
			case statusFailed, statusPartiallyFailed:
				return fmt.Errorf("the deployment failed (status %d %s): see the app's deployment log", s.Status, s.StatusText)
			case statusCancelled, statusSuperseded:
				return fmt.Errorf("the deployment was cancelled (status %d %s), maybe by another deployment", s.Status, s.StatusText)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the deployment did not complete within %s (last status: %s)", d.Timeout, orUnknown(last))
		case <-time.After(d.Poll):
		}
	}
}

func (d *Deployer) latest(ctx context.Context) (status, error) {
	req, err := runtime.NewRequest(ctx, http.MethodGet, d.scm+"/api/deployments/latest")
	if err != nil {
		return status{}, err
	}
	resp, err := d.pl.Do(req)
	if err != nil {
		return status{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return status{}, fmt.Errorf("GET /api/deployments/latest: %s", resp.Status)
	}
	var s status
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&s); err != nil {
		return status{}, fmt.Errorf("GET /api/deployments/latest: %w", err)
	}
	return s, nil
}
