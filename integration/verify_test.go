package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/integration/harness"
)

// deployExpectingRevert deploys img under load and checks the deploy reverted
// with cause, named in the output and the record, and that users saw no error.
func deployExpectingRevert(t *testing.T, b *harness.Baton, img, verifyCause string) {
	t.Helper()
	load := (&harness.Load{URL: b.URL + "/", Host: "web.test", Workers: 4}).Start()
	out, code := b.CLI("deploy", "web", "--image", img)
	rep := load.Stop()
	t.Logf("deploy exit %d:\n%s\nload: %s", code, out, rep)
	if code != 5 {
		t.Fatalf("exit code %d, want 5 (reverted)", code)
	}
	if !strings.Contains(out, verifyCause) || !strings.Contains(out, "hint:") {
		t.Fatalf("cause %s and a hint not named:\n%s", verifyCause, out)
	}
	if rep.Non2xx != 0 || rep.ConnErrors != 0 {
		t.Fatalf("users saw errors: %s", rep)
	}
	rec := lastRecord(t, b, "web")
	if rec.Step != cutover.StepReverted || rec.Cause != verifyCause {
		t.Fatalf("record %s cause %s", rec.Step, rec.Cause)
	}
	if _, rel := getRelease(t, b.URL+"/", "web.test"); rel != "aaaaaaa" {
		t.Fatalf("after the revert the front door serves %q", rel)
	}
}

func TestVerifyNamesNewContainerServingOldRelease(t *testing.T) {
	v1 := release(t, "aaaaaaa")
	// Labelled as bbbbbbb, but the build forgot the new SHA: the app says aaaaaaa.
	stale := harness.Image(t, "bbbbbbb-stale", map[string]string{"org.opencontainers.image.revision": "bbbbbbb"}, "RELEASE=aaaaaaa")
	b, _ := webService(t, v1, nil)
	deployExpectingRevert(t, b, stale, cutover.VerifyNewServesOld)
}

func TestVerifyNamesUpstreamError(t *testing.T) {
	v1, broken := release(t, "aaaaaaa"), release(t, "bbbbbbb", "VERSION_STATUS=502")
	b, _ := webService(t, v1, nil)
	deployExpectingRevert(t, b, broken, cutover.VerifyUpstream)
}

func TestVerifyNamesHostRoutedToAnotherService(t *testing.T) {
	v1, v2 := release(t, "aaaaaaa"), release(t, "bbbbbbb")
	b, c := webService(t, v1, nil)
	// A leftover old container under a second service label claims /version
	// on the same host (the longer path wins).
	harness.Run(t, harness.ContainerOpts{Image: v1, Network: harness.NetworkOf(t, c.ID), Labels: labels(map[string]string{
		"baton.service": "web-old", "baton.host": "web.test", "baton.path": "/version"})})
	harness.Eventually(t, 20*time.Second, "web-old routed", func() bool {
		out, _ := b.CLI("status")
		return strings.Contains(out, "web-old") && strings.Contains(out, "(ready,")
	})
	deployExpectingRevert(t, b, v2, cutover.VerifyOtherService)
}

func TestVerifyNamesAnAnswerFromACacheBehindBaton(t *testing.T) {
	v1 := release(t, "aaaaaaa")
	// The new release runs, but a page cache inside the app still answers
	// /version with the old release, and says so in Cache-Status.
	cachedOld := release(t, "bbbbbbb", "VERSION_APP_CACHE=aaaaaaa")
	b, _ := webService(t, v1, nil)
	deployExpectingRevert(t, b, cachedOld, cutover.VerifyCacheHit)
}

// A release with no fingerprint anywhere goes live but is never green: exit
// 6, and `baton status` shows it unverified.
func TestDeployWithoutFingerprintIsLiveButUnverified(t *testing.T) {
	v1 := release(t, "aaaaaaa")
	anonymous := harness.Image(t, "no-fingerprint", nil, "RELEASE=bbbbbbb")
	b, _ := webService(t, v1, nil)
	out, code := b.CLI("deploy", "web", "--image", anonymous)
	if code != 6 || !strings.Contains(out, "unverified") || !strings.Contains(out, "org.opencontainers.image.revision") {
		t.Fatalf("exit %d, want 6 naming the missing fingerprint:\n%s", code, out)
	}
	if _, rel := getRelease(t, b.URL+"/", "web.test"); rel != "bbbbbbb" {
		t.Fatalf("the new release does not serve: %q", rel)
	}
	if st, _ := b.CLI("status"); !strings.Contains(st, "UNVERIFIED") {
		t.Fatalf("status does not show the deploy unverified:\n%s", st)
	}
}

func TestVerifySeesThroughCacheAfterPurge(t *testing.T) {
	// /version is cached for an hour; the purge at the switch must clear it.
	v1, v2 := release(t, "aaaaaaa", "VERSION_CACHE_MAXAGE=3600"), release(t, "bbbbbbb", "VERSION_CACHE_MAXAGE=3600")
	b, _ := webService(t, v1, map[string]string{"baton.cache": "true"})
	for i := 0; i < 3; i++ {
		resp := mustGet(t, b.URL+"/version", "web.test", nil)
		if i > 0 && !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
			t.Fatalf("/version not served from the cache: Cache-Status %q", resp.Header.Get("Cache-Status"))
		}
	}
	out, code := b.CLI("deploy", "web", "--image", v2)
	if code != 0 || !strings.Contains(out, "verified") {
		t.Fatalf("deploy exit %d:\n%s", code, out)
	}
	if rel := mustGet(t, b.URL+"/version", "web.test", nil).Header.Get("X-Release"); rel != "bbbbbbb" {
		t.Fatalf("cached /version still says %q after the deploy", rel)
	}

	// `baton cache purge SERVICE PATH` drops what is stored under the path
	// prefix (which entries a prefix covers: proxy/cache's purge tests).
	mustGet(t, b.URL+"/version", "web.test", nil)
	if cs := mustGet(t, b.URL+"/version", "web.test", nil).Header.Get("Cache-Status"); !strings.Contains(cs, "hit") {
		t.Fatalf("/version not stored again: Cache-Status %q", cs)
	}
	out, code = b.CLI("cache", "purge", "web", "/version")
	if code != 0 || !strings.Contains(out, "purged 1 cached responses of web/version") {
		t.Fatalf("cache purge exit %d: %s", code, out)
	}
	if cs := mustGet(t, b.URL+"/version", "web.test", nil).Header.Get("Cache-Status"); !strings.Contains(cs, "fwd=uri-miss") {
		t.Fatalf("after the purge /version is still served from the cache: Cache-Status %q", cs)
	}
	if out, code = b.CLI("cache", "purge", "web", "version"); code != 2 || !strings.Contains(out, "must start with /") {
		t.Fatalf("a PATH without / : exit %d: %s", code, out)
	}
}
