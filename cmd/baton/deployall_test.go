package main

import (
	"strings"
	"testing"

	"github.com/batonproxy/baton/admin"
)

func TestDependencyOrder(t *testing.T) {
	in := []admin.ServiceStatus{
		{Name: "shop-web", DependsOn: []string{"shop-api", "shop-cache"}},
		{Name: "shop-api", DependsOn: []string{"shop-db"}},
		{Name: "shop-worker", DependsOn: []string{"shop-api"}},
		{Name: "shop-cache"},
	}
	out, err := dependencyOrder(in)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range out {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, " "); got != "shop-api shop-cache shop-web shop-worker" {
		t.Fatalf("order %s", got)
	}
	if _, err := dependencyOrder([]admin.ServiceStatus{{Name: "a", DependsOn: []string{"b"}}, {Name: "b", DependsOn: []string{"a"}}}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("cycle not reported: %v", err)
	}
}
