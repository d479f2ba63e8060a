package proxy

import (
	"errors"
	"testing"
)

func TestLookupPrecedence(t *testing.T) {
	routes := []*Route{
		{Service: "any", Host: "*", Path: "/"},
		{Service: "wild", Host: "*.example.com", Path: "/"},
		{Service: "deepwild", Host: "*.eu.example.com", Path: "/"},
		{Service: "app", Host: "app.example.com", Path: "/"},
		{Service: "api", Host: "app.example.com", Path: "/api"},
		{Service: "apiv2", Host: "app.example.com", Path: "/api/v2"},
		{Service: "wildapi", Host: "*.example.com", Path: "/api"},
	}
	table, errs := NewTable(routes)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	cases := []struct{ host, path, want string }{
		{"app.example.com", "/", "app"},
		{"app.example.com", "/api", "api"},
		{"app.example.com", "/api/users", "api"},
		{"app.example.com", "/apix", "app"}, // prefixes match whole segments
		{"app.example.com", "/api/v2/x", "apiv2"},
		{"shop.example.com", "/", "wild"},
		{"shop.example.com", "/api/x", "wildapi"},
		{"x.eu.example.com", "/", "deepwild"}, // the longer wildcard wins
		{"example.com", "/", "any"},           // "*.example.com" does not match the apex
		{"other.org", "/api", "any"},
	}
	for _, c := range cases {
		r := table.Lookup(c.host, c.path)
		if r == nil || r.Service != c.want {
			got := "<nil>"
			if r != nil {
				got = r.Service
			}
			t.Errorf("Lookup(%q, %q) = %s, want %s", c.host, c.path, got, c.want)
		}
	}
}

func TestLookupUnknownHostWithoutCatchAll(t *testing.T) {
	table, _ := NewTable([]*Route{{Service: "app", Host: "app.test", Path: "/"}})
	if r := table.Lookup("other.test", "/"); r != nil {
		t.Fatalf("unknown host routed to %s", r.Service)
	}
	if table.KnowsHost("other.test") {
		t.Fatal("KnowsHost(other.test) = true")
	}
}

func TestConflictRefusesLaterService(t *testing.T) {
	table, errs := NewTable([]*Route{
		{Service: "first", Host: "app.test", Path: "/"},
		{Service: "second", Host: "APP.test", Path: "/"},
	})
	if len(errs) != 1 {
		t.Fatalf("errors = %v, want one conflict", errs)
	}
	var ce *ConflictError
	if !errors.As(errs[0], &ce) || ce.Kept != "first" || ce.Refused != "second" {
		t.Fatalf("conflict = %v", errs[0])
	}
	if r := table.Lookup("app.test", "/"); r == nil || r.Service != "first" {
		t.Fatalf("app.test hijacked: %v", r)
	}
}

func TestHostOnly(t *testing.T) {
	for in, want := range map[string]string{
		"app.test":       "app.test",
		"App.Test:8080":  "app.test",
		"[::1]:443":      "::1",
		"127.0.0.1:8080": "127.0.0.1",
	} {
		if got := hostOnly(in); got != want {
			t.Errorf("hostOnly(%q) = %q, want %q", in, got, want)
		}
	}
}
