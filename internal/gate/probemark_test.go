package gate

import "testing"

func TestMarkProbe(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"no query", "https://apim.example.net/orders/health", "https://apim.example.net/orders/health?slotless-probe=1"},
		{"a query of the caller's", "https://apim.example.net/orders/items?page=2&sort=-id", "https://apim.example.net/orders/items?page=2&sort=-id&slotless-probe=1"},
		{"an empty query", "https://apim.example.net/orders/items?", "https://apim.example.net/orders/items?slotless-probe=1"},
		{"a trailing ampersand", "https://apim.example.net/orders/items?a=1&", "https://apim.example.net/orders/items?a=1&slotless-probe=1"},
		{"an encoded query kept byte for byte", "https://h/api/health?code=a%2Bb%3D%3D&x=%7E", "https://h/api/health?code=a%2Bb%3D%3D&x=%7E&slotless-probe=1"},
		{"a fragment", "https://h/p?a=1#top", "https://h/p?a=1&slotless-probe=1#top"},
		{"already marked by the caller", "https://h/p?slotless-probe=0", "https://h/p?slotless-probe=0"},
		{"already marked, among others", "https://h/p?a=1&slotless-probe&b=2", "https://h/p?a=1&slotless-probe&b=2"},
		{"already marked, encoded name", "https://h/p?slotless%2Dprobe=1", "https://h/p?slotless%2Dprobe=1"},
		{"a query that does not parse keeps its own marker", "https://h/p?bad=%zz&slotless-probe=1", "https://h/p?bad=%zz&slotless-probe=1"},
		{"not a URL: left for the caller to refuse", "http://[::1", "http://[::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MarkProbe(tt.raw)
			if got != tt.want {
				t.Errorf("MarkProbe(%q): got %q, want %q", tt.raw, got, tt.want)
			}
			if MarkProbe(got) != got {
				t.Errorf("MarkProbe is not idempotent on %q", got)
			}
			if tt.raw != "http://[::1" && !IsProbe(got) {
				t.Errorf("IsProbe(%q): got false, want true", got)
			}
		})
	}
	if IsProbe("https://h/p?a=1") {
		t.Error("IsProbe of an unmarked URL: got true, want false")
	}
}
