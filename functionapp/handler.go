package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// maxDebugDelay caps ?delay= so even a test build cannot be made to hold a
// connection longer than the default shutdown budget.
const maxDebugDelay = 10 * time.Second

// orderResponse is the sample API payload. slot and version come first because
// they are what a caller inspects to see which colour answered during a
// canary.
type orderResponse struct {
	Slot    string `json:"slot"`
	Version string `json:"version"`
	Message string `json:"message"`
	// Timestamp is RFC 3339 in UTC. It is a string rather than a time.Time
	// because encoding/json re-validates the output of every MarshalJSON
	// method, which made the timestamp the costliest field on this route.
	Timestamp    string `json:"timestamp"`
	OrderID      string `json:"orderId,omitempty"`
	InvocationID string `json:"invocationId,omitempty"`
}

// errorResponse is the body of every error this app writes itself.
type errorResponse struct {
	Error string `json:"error"`
}

// handleOrders serves GET /api/orders and GET /api/orders/{id}.
func (a *app) handleOrders(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id != "" && !validOrderID(id) {
		writeJSON(w, http.StatusBadRequest, errorResponse{Error: "order id must be 1-64 characters of A-Z, a-z, 0-9, '-' or '_'"})
		return
	}

	if a.cfg.DebugDelay {
		if v := r.URL.Query().Get("delay"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 || d > maxDebugDelay {
				writeJSON(w, http.StatusBadRequest, errorResponse{Error: fmt.Sprintf("delay must be a duration between 0 and %s", maxDebugDelay)})
				return
			}
			// The shutdown test waits for this line so it knows the request
			// is in flight before it sends SIGTERM.
			a.logger.DebugContext(r.Context(), "debug delay started", "delay", d.String())
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
	}

	msg := "hello from the " + a.slotLabel() + " slot"
	if id != "" {
		msg = "order " + id + " served by the " + a.slotLabel() + " slot"
	}
	writeJSON(w, http.StatusOK, orderResponse{
		Slot:         a.cfg.Slot,
		Version:      a.cfg.Version,
		Message:      msg,
		Timestamp:    a.now().UTC().Format(time.RFC3339Nano),
		OrderID:      id,
		InvocationID: invocationID(r),
	})
}

// slotLabel keeps messages readable when SLOT_NAME is unset (a local run).
func (a *app) slotLabel() string {
	if a.cfg.Slot == "" {
		return "unnamed"
	}
	return a.cfg.Slot
}

// validOrderID rejects anything that could smuggle markup or control
// characters into the echoed message.
func validOrderID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// jsonWriter is a reusable encoder with its buffer; pooling them keeps the
// API route at a few allocations per request, which matters because its
// throughput is held to that of a bare hello-world server.
type jsonWriter struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var jsonWriters = sync.Pool{New: func() any {
	jw := &jsonWriter{}
	jw.enc = json.NewEncoder(&jw.buf)
	return jw
}}

// writeJSON encodes v before touching the ResponseWriter so an encoding
// failure can still become a clean 500 instead of a truncated 200.
func writeJSON(w http.ResponseWriter, status int, v any) {
	jw := jsonWriters.Get().(*jsonWriter)
	defer func() {
		// A rare huge body should not pin its buffer in the pool forever.
		if jw.buf.Cap() <= 64<<10 {
			jw.buf.Reset()
			jsonWriters.Put(jw)
		}
	}()
	body := internalErrorBody
	if err := jw.enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
	} else {
		body = jw.buf.Bytes()
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	// Responses identify a colour; a cache in front of APIM must not serve
	// green's answer after traffic moved to blue.
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Shared, read-only header values and body; see app.slotHeader for why
// sharing is safe.
var (
	jsonContentType   = []string{"application/json; charset=utf-8"}
	noStore           = []string{"no-store"}
	internalErrorBody = []byte(`{"error":"internal error"}` + "\n")
)
