package cutover

import (
	"strings"
	"testing"
)

func TestDeployOrder(t *testing.T) {
	out, err := DeployOrder(map[string][]string{
		"shop-web":    {"shop-api", "shop-cache"},
		"shop-api":    {"shop-db"}, // not in the set: ignored
		"shop-worker": {"shop-api"},
		"shop-cache":  nil,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(out, " "); got != "shop-api shop-cache shop-web shop-worker" {
		t.Fatalf("order %s", got)
	}
	if _, err := DeployOrder(map[string][]string{"a": {"b"}, "b": {"a"}}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("cycle not reported: %v", err)
	}
}
