// Package apiurl checks the URLs slotless sends its secrets to: the API's URL (--api-url,
// SLOTLESS_API_URL, the stack output apiUrl), where every pinned request carries the pinning
// token and the subscription key, and a direct app URL (--url), where a health gate sends the
// function key. Over plain http those would travel in clear, readable and replayable by anyone
// on the path, so only https is taken; plain http only to a loopback address (localhost,
// 127.0.0.0/8, ::1), a test server on the same machine, from which the secrets never leave it.
package apiurl

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Allowed says what Check takes, for messages and help texts.
const Allowed = "an absolute https URL, or http to a loopback address (localhost, 127.0.0.1, [::1]) for a local test server"

// Error refuses a URL, naming where it came from (a flag, an environment variable, a stack
// output), the value and what is allowed.
type Error struct {
	// Source is where the URL came from, such as --api-url.
	Source string
	// Value is the URL as given.
	Value string
	// Secret names what would be sent to it.
	Secret string
	// Reason is what is wrong with it.
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %q %s; want %s", e.Source, shown(e.Value), e.Reason, Allowed)
}

// shown is a URL as an error may print it: without its query string or user information, where
// a function key (?code=) or a password may be.
func shown(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(not a URL)"
	}
	hidden := u.RawQuery != "" || u.User != nil
	u.RawQuery, u.User, u.Fragment = "", nil, ""
	if hidden {
		return u.String() + " (query and user left out)"
	}
	return u.String()
}

// The places the API's URL is read from, in the order slotless reads them.
const (
	SourceFlag   = "--api-url"
	SourceEnv    = "SLOTLESS_API_URL"
	SourceOutput = "the stack output apiUrl"
)

// Resolve picks the API's URL: the flag, else the environment, else the stack output; source
// says which, "" when none is set.
func Resolve(flag, env, output string) (value, source string) {
	switch {
	case flag != "":
		return flag, SourceFlag
	case env != "":
		return env, SourceEnv
	case output != "":
		return output, SourceOutput
	}
	return "", ""
}

// CheckAPI is Check for the API's URL, where pinned requests send the pinning token and the
// subscription key.
func CheckAPI(source, raw string) error {
	return Check(source, raw, "the pinning token and the subscription key")
}

// Check returns nil when raw is a URL slotless may send secret to: https, or http to a loopback
// host. source names the flag, variable or output it came from; secret what it would carry.
func Check(source, raw, secret string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return &Error{Source: source, Value: raw, Secret: secret, Reason: "is not an absolute http or https URL"}
	}
	if u.Scheme == "https" || loopback(u.Hostname()) {
		return nil
	}
	return &Error{Source: source, Value: raw, Secret: secret, Reason: "is plain http to " + u.Hostname() + ", which would carry " + secret + " in clear"}
}

// loopback reports whether host is the machine itself: localhost (RFC 6761 reserves it for the
// loopback interface) or a loopback IP address.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
