package azurefake

import (
	"net/http"
	"strings"
)

// What the users get through API Management, at every state an update goes through. An update
// changes what a request gets only at its writes (the policy, an app's authentication
// settings, the service's identity, the named values), and the stand-in applies each write at
// one moment, under the cloud's lock; so a test that asks after every write sees every state
// the users could have met, where one that sends requests while the update runs sees only the
// moments it happens to sample. With Cloud.WatchUsers set, each successful create, update and
// delete of the provider records GatewayAnswers right after it in Cloud.UsersSaw.

// UserAnswer is what a request through API Management got from one app after a write.
type UserAnswer struct {
	// Call is the index in Cloud.Calls of the write after which the request was answered.
	Call int `json:"call"`
	// App is the function app the gateway forwarded to; Share the weight the pools gave it
	// then: the users' requests reach it only above 0, pinned requests (gates, probes,
	// warm-up) at any share.
	App   string `json:"app"`
	Share int    `json:"share"`
	// Status is 200 or the status of the refusal, and Reason who refused and why.
	Status int    `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// ThroughGateway is how a request API Management forwards to app, of subscription sub, is
// answered: the gateway's failure (500, with the policy's error: API Management answers a
// failed policy with its on-error section, 500 by default) or the app's answer to the key and
// the token the gateway sends (Forward, AppSees).
func (c *Cloud) ThroughGateway(sub string, app *Resource) Answer {
	return c.ThroughGatewayAt(sub, app, "")
}

// ThroughGatewayAt is ThroughGateway for a request to path on the app's host ("" for a route of
// one of its functions), as the app's built-in authentication and Functions host see it.
func (c *Cloud) ThroughGatewayAt(sub string, app *Resource, path string) Answer {
	host, _ := app.Properties["defaultHostName"].(string)
	fwd, err := c.Forward(sub, host)
	if err != nil {
		return Answer{Status: http.StatusInternalServerError, Reason: "the gateway failed the request: " + err.Error()}
	}
	return c.AppSeesAt(app, path, fwd.Authorization, fwd.FunctionKey)
}

// GatewayAnswers is what a request through API Management gets now from each function app of
// subscription sub that one of the subscription's backends points at.
func (c *Cloud) GatewayAnswers(sub string) []UserAnswer {
	var out []UserAnswer
	for _, app := range c.ByType("azure-native:web:WebApp") {
		host, _ := app.Properties["defaultHostName"].(string)
		if app.Subscription != sub || host == "" || !behindABackend(c, sub, host) {
			continue
		}
		a := c.ThroughGateway(sub, app)
		out = append(out, UserAnswer{Call: len(c.Calls) - 1, App: app.Name(), Share: c.Share(host), Status: a.Status, Reason: a.Reason})
	}
	return out
}

// watchUsers records GatewayAnswers after the write just recorded, when WatchUsers is set.
func (c *Cloud) watchUsers(sub string) {
	if c.WatchUsers {
		c.UsersSaw = append(c.UsersSaw, c.GatewayAnswers(sub)...)
	}
}

// behindABackend reports whether a single backend of subscription sub points at host.
func behindABackend(c *Cloud, sub, host string) bool {
	for _, b := range c.ByType("azure-native:apimanagement:Backend") {
		if u, _ := b.Inputs["url"].(string); b.Subscription == sub && strings.Contains(u, "://"+host+"/") {
			return true
		}
	}
	return false
}
