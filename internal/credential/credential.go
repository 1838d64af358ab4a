// Package credential picks the Azure credential slotless signs in with, the same for every
// command: the Azure Pipelines service connection or the GitHub job's OIDC token when the job
// provides one, each fetching a fresh federated token per access token, else
// DefaultAzureCredential; and the Log Analytics client and the azure-native token refresh built
// on it.
package credential

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/monitor/azquery"

	"github.com/slotless/slotless/internal/gate"
)

// A release stage runs for its bakes, longer than the federated token its CI job starts with
// lives (about 10 minutes on Azure DevOps, about 5 for the az CLI signed in by azure/login on
// GitHub). So slotless release never holds one token: in CI it asks the CI system for a fresh
// federated token whenever it needs an Azure access token, for the metrics gate (azidentity's
// credentials, whose tokens azcore renews before they expire) and, on Azure DevOps, for each
// shift's and rollback's update (azure-native reads ARM_OIDC_TOKEN when its provider starts;
// on GitHub it requests the job's token itself).

// Environment of Azure Pipelines: the OIDC endpoint and the job's access token (mapped into
// the step as SYSTEM_ACCESSTOKEN: $(System.AccessToken)), and the service connection the
// AzureCLI@2 task signs in with.
const (
	envADOOIDCURI     = "SYSTEM_OIDCREQUESTURI"
	envADOAccessToken = "SYSTEM_ACCESSTOKEN"
	envADOConnection  = "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID"
	envADOClientID    = "AZURESUBSCRIPTION_CLIENT_ID"
	envADOTenantID    = "AZURESUBSCRIPTION_TENANT_ID"
)

// Environment of a GitHub Actions job with `id-token: write`, and the ids azure-native reads.
const (
	envGHRequestURL   = "ACTIONS_ID_TOKEN_REQUEST_URL"
	envGHRequestToken = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
	envARMClientID    = "ARM_CLIENT_ID"
	envARMTenantID    = "ARM_TENANT_ID"
	envARMUseOIDC     = "ARM_USE_OIDC"
	envARMOIDCToken   = "ARM_OIDC_TOKEN"
)

// federatedAudience is the audience Entra expects on a federated token.
const federatedAudience = "api://AzureADTokenExchange"

// oidcRequestTimeout bounds one request for a federated token.
const oidcRequestTimeout = 30 * time.Second

// adoPipeline returns the Azure Pipelines identity in the environment, or ok false.
func adoPipeline(getenv func(string) string) (tenant, client, connection, accessToken, uri string, ok bool) {
	tenant, client, connection = getenv(envADOTenantID), getenv(envADOClientID), getenv(envADOConnection)
	accessToken, uri = getenv(envADOAccessToken), getenv(envADOOIDCURI)
	ok = tenant != "" && client != "" && connection != "" && accessToken != "" && uri != ""
	return
}

// Azure picks the credential of the metrics gate: the Azure Pipelines service
// connection or the GitHub job's OIDC token when the job provides one, each fetching a fresh
// federated token per access token; else DefaultAzureCredential (environment, workload
// identity, managed identity, az login, ...). The name says which, for the log.
func Azure(getenv func(string) string) (azcore.TokenCredential, string, error) {
	if tenant, client, connection, accessToken, _, ok := adoPipeline(getenv); ok {
		c, err := azidentity.NewAzurePipelinesCredential(tenant, client, connection, accessToken, nil)
		if err != nil {
			return nil, "", fmt.Errorf("azure pipelines credential: %w", err)
		}
		return c, "the Azure Pipelines service connection, a fresh federated token per access token", nil
	}
	reqURL, reqToken := getenv(envGHRequestURL), getenv(envGHRequestToken)
	client, tenant := FirstOf(getenv, "AZURE_CLIENT_ID", envARMClientID), FirstOf(getenv, "AZURE_TENANT_ID", envARMTenantID)
	if reqURL != "" && reqToken != "" && client != "" && tenant != "" {
		c, err := azidentity.NewClientAssertionCredential(tenant, client, func(ctx context.Context) (string, error) {
			return githubIDToken(ctx, http.DefaultClient, reqURL, reqToken)
		}, nil)
		if err != nil {
			return nil, "", fmt.Errorf("github oidc credential: %w", err)
		}
		return c, "the GitHub job's OIDC token, fetched afresh per access token", nil
	}
	c, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, "", fmt.Errorf("azure credential: %w", err)
	}
	return c, "DefaultAzureCredential", nil
}

func FirstOf(getenv func(string) string, keys ...string) string {
	for _, k := range keys {
		if v := getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// Logs builds the Log Analytics client of the metrics gate. endpoint overrides the query
// API (a sovereign cloud's); its audience is the endpoint's origin, as Azure's clouds name it.
func Logs(endpoint string, getenv func(string) string) (gate.LogsQuerier, string, error) {
	cred, name, err := Azure(getenv)
	if err != nil {
		return nil, "", err
	}
	opts := &azquery.LogsClientOptions{}
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || u.Host == "" {
			return nil, "", fmt.Errorf("logs endpoint %q: want an absolute URL", endpoint)
		}
		opts.Cloud = cloud.Configuration{Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			azquery.ServiceNameLogs: {Endpoint: endpoint, Audience: u.Scheme + "://" + u.Host},
		}}
	}
	c, err := azquery.NewLogsClient(cred, opts)
	if err != nil {
		return nil, "", fmt.Errorf("log analytics client: %w", err)
	}
	return c, name, nil
}

// ARMTokenRefresher returns, on Azure Pipelines with azure-native on OIDC, a function that
// fetches a fresh federated token for the next update's ARM_OIDC_TOKEN: the token the task
// exported lives about 10 minutes, and a rollback at minute 12 of a bake must still sign in.
// Elsewhere it returns nil: on GitHub azure-native requests the job's token itself, and on a
// laptop it uses az login.
func ARMTokenRefresher(getenv func(string) string) (func(context.Context) (map[string]string, error), error) {
	if getenv(envARMUseOIDC) != "true" {
		return nil, nil
	}
	_, _, connection, accessToken, uri, ok := adoPipeline(getenv)
	if !ok {
		return nil, nil
	}
	return func(ctx context.Context) (map[string]string, error) {
		tok, err := adoIDToken(ctx, http.DefaultClient, uri, connection, accessToken)
		if err != nil {
			return nil, err
		}
		return map[string]string{envARMOIDCToken: tok}, nil
	}, nil
}

// adoIDToken asks Azure Pipelines for a federated token of a service connection (the REST
// call azidentity's AzurePipelinesCredential makes).
func adoIDToken(ctx context.Context, client *http.Client, uri, connection, accessToken string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", fmt.Errorf("%s: not a URL", envADOOIDCURI)
	}
	q := u.Query()
	q.Set("api-version", "7.1")
	q.Set("serviceConnectionId", connection)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, oidcRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("X-TFS-FedAuthRedirect", "Suppress")
	var body struct {
		OIDCToken string `json:"oidcToken"`
	}
	if err := doJSON(client, req, &body); err != nil {
		return "", fmt.Errorf("azure pipelines federated token: %w", err)
	}
	if body.OIDCToken == "" {
		return "", errors.New("azure pipelines federated token: the answer has no oidcToken")
	}
	return body.OIDCToken, nil
}

// githubIDToken asks GitHub Actions for the job's OIDC token, for Entra's audience.
func githubIDToken(ctx context.Context, client *http.Client, requestURL, requestToken string) (string, error) {
	u, err := url.Parse(requestURL)
	if err != nil {
		return "", fmt.Errorf("%s: not a URL", envGHRequestURL)
	}
	q := u.Query()
	q.Set("audience", federatedAudience)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, oidcRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+requestToken)
	var body struct {
		Value string `json:"value"`
	}
	if err := doJSON(client, req, &body); err != nil {
		return "", fmt.Errorf("github oidc token: %w", err)
	}
	if body.Value == "" {
		return "", errors.New("github oidc token: the answer has no value")
	}
	return body.Value, nil
}

// doJSON sends req and decodes a 200 answer. Neither the URL (it may carry a token) nor the
// body of a failure is echoed, only the status.
func doJSON(client *http.Client, req *http.Request, v any) error {
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("no answer: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		return fmt.Errorf("read the answer: %w", err)
	}
	return nil
}
