package autotls

import (
	"testing"
	"time"

	"github.com/batonproxy/baton/proxy"
)

// A host whose containers are all gone keeps its route (it answers 503, not
// 404) but must not be renewed for ever: after ReleaseAfter without a target
// its certificate leaves the cache and is no longer maintained; a container
// that comes back claims it again from storage.
func TestHostWithoutTargetIsReleasedAfterAWhile(t *testing.T) {
	m, err := New(Options{CA: "internal", Storage: t.TempDir(), HTTPSAddr: "127.0.0.1:0", ReleaseAfter: time.Hour, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	clock := time.Now()
	m.now = func() time.Time { return clock }
	target := proxy.NewTarget("c1", "127.0.0.1:1", nil, proxy.TransportOptions{})
	t.Cleanup(target.Close)
	withTarget := []*proxy.Route{{Service: "web", Host: "web.localhost", Targets: []*proxy.Target{target}}}
	empty := []*proxy.Route{{Service: "web", Host: "web.localhost"}}

	m.Sync(withTarget)
	first := waitReady(t, m, "web.localhost")

	m.Sync(empty) // the last container stopped: a recreate, maybe
	clock = clock.Add(59 * time.Minute)
	m.Sync(empty)
	if !m.Secure("web.localhost") || len(m.cache.AllMatchingCertificates("web.localhost")) == 0 {
		t.Fatal("host released before ReleaseAfter passed")
	}

	clock = clock.Add(2 * time.Minute)
	m.Sync(empty)
	if m.Secure("web.localhost") || len(m.Certificates()) != 0 {
		t.Fatalf("host still managed an hour after its last target: %+v", m.Certificates())
	}
	if n := len(m.cache.AllMatchingCertificates("web.localhost")); n != 0 {
		t.Fatalf("%d certificates still in the cache, renewed by certmagic", n)
	}

	m.Sync(withTarget) // a container claims the host again
	again := waitReady(t, m, "web.localhost")
	if !again.NotAfter.Equal(first.NotAfter) {
		t.Errorf("certificate issued anew (not after %s, was %s): the stored one should be loaded", again.NotAfter, first.NotAfter)
	}
}
