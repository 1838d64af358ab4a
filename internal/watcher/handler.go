package watcher

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// EnvHandlerPort is the port the Functions host tells a custom handler to listen on
// (functions-custom-handlers.md: "FUNCTIONS_CUSTOMHANDLER_PORT").
const EnvHandlerPort = "FUNCTIONS_CUSTOMHANDLER_PORT"

// InvokeRequest is the host's request for one invocation of a non-HTTP function: its trigger's
// data by binding name, and metadata (functions-custom-handlers.md, "Request payload").
type InvokeRequest struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// TimerInfo is what the timer binding passes: IsPastDue marks a run later than its occurrence
// (the app was down, or the previous run still held the schedule), and ScheduleStatus the
// last, next and last-updated occurrences the host keeps with useMonitor
// (functions-bindings-timer.md, "Usage").
type TimerInfo struct {
	ScheduleStatus *struct {
		Last, Next, LastUpdated time.Time
	} `json:"ScheduleStatus"`
	IsPastDue bool `json:"IsPastDue"`
}

// InvokeResponse is the handler's answer: outputs by binding name, log lines the host writes
// to its logs, and the function's return value (functions-custom-handlers.md, "Response
// payload"). A status other than 2xx fails the invocation.
type InvokeResponse struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// Handler serves the host's invocations of the watch function: each is one tick. run does the
// tick and returns its log lines and summary; an error answers 500, so the host records a
// failed invocation. Ticks never overlap in one process, whatever the host sends.
func Handler(run func(ctx context.Context, timer TimerInfo) (logs []string, summary any, err error)) http.Handler {
	var mu sync.Mutex
	mux := http.NewServeMux()
	mux.HandleFunc("POST /"+FunctionName, func(w http.ResponseWriter, r *http.Request) {
		var req InvokeRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "the host's request: "+err.Error(), http.StatusBadRequest)
			return
		}
		var timer TimerInfo
		if raw, ok := req.Data["timer"]; ok {
			// The host passes the timer as a JSON string on some versions, an object on
			// others; read both.
			var s string
			if json.Unmarshal(raw, &s) == nil {
				raw = json.RawMessage(s)
			}
			_ = json.Unmarshal(raw, &timer)
		}
		mu.Lock()
		logs, summary, err := run(r.Context(), timer)
		mu.Unlock()
		resp := InvokeResponse{Outputs: map[string]any{}, Logs: logs, ReturnValue: summary}
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			resp.Logs = append(resp.Logs, "error: "+err.Error())
			w.WriteHeader(http.StatusInternalServerError)
		}
		_ = json.NewEncoder(w).Encode(resp)
	})
	return mux
}

// lines splits a tick's output into log lines.
func Lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// Summary is a tick's return value: what the host's invocation log shows.
func (r Result) Summary() map[string]any {
	m := map[string]any{"outcome": string(r.Outcome), "tookMs": r.Took.Milliseconds()}
	if r.Held != nil {
		m["heldBy"] = fmt.Sprintf("%s %s (%s)", r.Held.Kind, r.Held.ID, r.Held.By)
	}
	if r.Record != nil {
		m["record"] = string(r.Record.Outcome)
		m["slot"] = string(r.Record.Slot)
	}
	if !r.JudgedTo.IsZero() {
		m["judgedTo"] = r.JudgedTo.UTC().Format(time.RFC3339)
	}
	return m
}
