// Package gate holds the release gates that decide whether a rollout may take
// its next step: a health gate that polls one slot's /api/health until it has
// seen enough consecutive healthy answers from the expected slot and version,
// and a metrics gate that compares the canary slot's request telemetry with
// the stable slot's in Log Analytics.
//
// A gate that says no returns a *GateError, so callers can tell a release
// that must stop from a gate that could not run at all.
package gate

// Reason is the machine-readable cause of a failed gate. Pipelines match on it,
// so the values are part of the CLI's contract.
type Reason string

// Reasons a health gate fails with.
const (
	// ReasonWrongVersion means the slot answered healthy but with another
	// version, typically because the deployment has not landed yet.
	ReasonWrongVersion Reason = "wrong-version"
	// ReasonWrongSlot means the answer came from the other colour, which
	// through APIM means slot pinning did not take effect.
	ReasonWrongSlot Reason = "wrong-slot"
	// ReasonUnhealthy means the app answered but reported a failing check or
	// a status other than 200.
	ReasonUnhealthy Reason = "unhealthy"
	// ReasonTimeout means answers took longer than the per-request timeout,
	// or the gate ran out of time before anything failed.
	ReasonTimeout Reason = "timeout"
	// ReasonUnreachable means no HTTP answer at all: refused connections,
	// DNS failures, TLS errors.
	ReasonUnreachable Reason = "unreachable"
)

// The metrics gate's reasons are in metrics.go, beside the checks that give them.

// GateError is a gate's "no". Detail is meant for people and never contains
// header values, which may hold keys and tokens.
type GateError struct {
	Reason Reason
	Detail string
	// HTTPStatus is the status of the answer a health gate's "no" rests on, its last failing
	// one; 0 when no answer came.
	HTTPStatus int
	// From is the slot that answer proves it came from: its X-Slot header, else its health
	// body's "slot" field. Empty when it carried neither: no answer at all, or an answer of
	// the gateway's own (an API Management 401, 429 or 502), which says nothing about what the
	// slot did. A release blames a slot only for an answer From that slot.
	From string
}

// Error puts the reason first so log searches and pipeline conditions can key
// on it.
func (e *GateError) Error() string {
	if e.Detail == "" {
		return string(e.Reason)
	}
	return string(e.Reason) + ": " + e.Detail
}
