package setting

import (
	"testing"
	"time"
)

func TestCheckHost(t *testing.T) {
	for h, ok := range map[string]bool{
		"*": true, "app.example.com": true, "*.example.com": true, "127.0.0.1": true, "my_app.local": true,
		"": false, "*.": false, "a.*.example.com": false, "-bad.example.com": false, "bad-.example.com": false,
		"a..b": false, "ex ample.com": false, "app.example.com/x": false,
	} {
		if err := CheckHost(h); (err == nil) != ok {
			t.Errorf("CheckHost(%q) = %v, want ok=%v", h, err, ok)
		}
	}
}

func TestParseHSTS(t *testing.T) {
	for v, want := range map[string]time.Duration{"true": 365 * 24 * time.Hour, "false": 0, "8760h": 8760 * time.Hour, " 1s ": time.Second} {
		if got, err := ParseHSTS(v); err != nil || got != want {
			t.Errorf("ParseHSTS(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"", "yes", "500ms", "-1h"} {
		if _, err := ParseHSTS(v); err == nil {
			t.Errorf("ParseHSTS(%q) accepted", v)
		}
	}
}
