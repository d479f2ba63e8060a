package check

import (
	"os"
	"path/filepath"
	"testing"
)

// Any bytes: Parse and Check answer (a report or a FileError), never panic.
func FuzzParseAndCheck(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("services:\n  a:\n    labels: [\"x=${A:-${B:?c}}$$\"]\n    ports: [\"1-2:3-4/udp\", {target: 9}]\n"))
	env := func(k string) (string, bool) {
		return map[string]string{"A": "a", "DOMAIN": "d.test"}[k], k == "A" || k == "DOMAIN"
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pf, err := Parse("compose.yaml", data, env)
		if err != nil {
			if _, ok := err.(*FileError); !ok {
				t.Fatalf("not a FileError: %T %v", err, err)
			}
			return
		}
		if len(pf.Services) > 20 {
			return // keep each run small
		}
		r := Check(NewProject("fuzz", []string{"compose.yaml"}, []*File{pf}), opts(true))
		if len(r.Services) != len(pf.Services) {
			t.Fatalf("%d services reported, %d read", len(r.Services), len(pf.Services))
		}
	})
}
