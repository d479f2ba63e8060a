package check

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/batonproxy/baton/upstream"
)

// load reads testdata files into a project named as Compose would name it
// from the directory (or the files' name:), with env as the environment.
func load(t *testing.T, env map[string]string, names ...string) *Project {
	t.Helper()
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var files []*File
	var paths []string
	for _, n := range names {
		path := filepath.Join("testdata", n)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse(path, data, lookup)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		files = append(files, f)
		paths = append(paths, path)
	}
	return NewProject(ProjectName("", files, "testdata/homelab"), paths, files)
}

// opts are a baton's defaults with Traefik labels read (the embedded config).
func opts(https bool) Options {
	return Options{Defaults: upstream.DefaultSpec(), TraefikLabels: true, HTTPS: https}
}

func service(t *testing.T, r Report, name string) ServiceReport {
	t.Helper()
	for _, s := range r.Services {
		if s.Compose == name {
			return s
		}
	}
	t.Fatalf("no service %s in %+v", name, r)
	return ServiceReport{}
}
