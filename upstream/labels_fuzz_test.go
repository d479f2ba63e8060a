package upstream

import (
	"strconv"
	"strings"
	"testing"
)

func FuzzParseRule(f *testing.F) {
	for _, s := range []string{"Host(`a.test`)", "(Host(`a`) || Host(`b`)) && PathPrefix(`/x`)", "Headers(`a`,`b`)", "((((", "Host(\"x\")"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rule string) {
		ms, err := ParseRule(rule)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(rule)) {
				t.Fatalf("error %q does not quote the rule", err)
			}
			return
		}
		for _, m := range ms {
			if checkHost(m.Host) != nil || !strings.HasPrefix(m.PathPrefix, "/") {
				t.Fatalf("accepted bad match %+v from %q", m, rule)
			}
		}
	})
}

func FuzzParseLabels(f *testing.F) {
	f.Add("baton.health.interval", "5s")
	f.Add("baton.host", "a.test,b.test")
	f.Add("traefik.http.routers.r.rule", "Host(`a.test`)")
	f.Add("baton.nope", "x")
	f.Fuzz(func(t *testing.T, key, value string) {
		labels := map[string]string{"baton.enable": "true", key: value}
		_, _, _, err := ParseLabels(Container{Name: "c"}, DefaultSpec(), ParseOptions{TraefikLabels: true})
		_ = err
		_, _, _, err = ParseLabels(Container{Name: "c", Labels: labels}, DefaultSpec(), ParseOptions{TraefikLabels: true})
		if err != nil && key != "baton.enable" && !strings.Contains(err.Error(), "label ") {
			t.Fatalf("error %q names no label", err)
		}
	})
}
