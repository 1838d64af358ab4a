package gate

import (
	"net/url"
	"strings"
)

// ProbeMarker is the query parameter every request slotless itself sends through the gateway
// carries (the health gate's pinned polls, the warm-up, the release's probes), as
// ProbeMarker=1. Application Insights records a request's URL, query included, so the metrics
// gate can leave these requests out of the users' figures: they are split between the slots by
// pinning, not by the pool's weights, and would otherwise pass for users of a slot that few
// users reach.
const ProbeMarker = "slotless-probe"

// ProbeValue is the value MarkProbe gives ProbeMarker, the one the metrics query leaves out.
const ProbeValue = "1"

// MarkProbe returns raw with ProbeMarker=1 added to its query. A URL whose query already names
// ProbeMarker, with any value, is returned as it is: the caller's own path decides then. The
// rest of the query is kept byte for byte (it may hold a function key or a signature whose
// encoding matters), and so is a URL that does not parse, which the caller's own validation
// reports.
func MarkProbe(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || hasParam(u.RawQuery, ProbeMarker) {
		return raw
	}
	base, fragment, hasFragment := strings.Cut(raw, "#")
	switch {
	case !strings.Contains(base, "?"):
		base += "?"
	case !strings.HasSuffix(base, "?") && !strings.HasSuffix(base, "&"):
		base += "&"
	}
	base += ProbeMarker + "=" + ProbeValue
	if hasFragment {
		base += "#" + fragment
	}
	return base
}

// IsProbe reports whether a request URL carries ProbeMarker: a request slotless sent.
func IsProbe(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	return hasParam(u.RawQuery, ProbeMarker)
}

// hasParam reports whether a raw query names key, even where the rest of it does not parse
// (url.ParseQuery gives up on the first bad escape).
func hasParam(rawQuery, key string) bool {
	for part := range strings.SplitSeq(rawQuery, "&") {
		name, _, _ := strings.Cut(part, "=")
		if n, err := url.QueryUnescape(name); err == nil && n == key || name == key {
			return true
		}
	}
	return false
}
