package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/batonproxy/baton/cutover"
)

func init() { adminCommands["verify"] = runVerify }

// runVerify is the verify-after-deploy probe from outside: through a CDN or a
// second proxy, the way users reach the app. Exit 0 only when every answer
// carries the expected fingerprint.
func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "URL to probe, e.g. https://app.example.com/version")
	expect := fs.String("expect", "", "expected release fingerprint (a git SHA: short and long forms match)")
	header := fs.String("header", "", "read the fingerprint from this response header instead of the body")
	count := fs.Int("count", 3, "number of probes; every one must match")
	timeout := fs.Duration("timeout", 10*time.Second, "timeout of each probe")
	if err := fs.Parse(args); err != nil || *url == "" || *expect == "" || *count < 1 {
		fmt.Fprintln(stderr, "usage: baton verify --url URL --expect SHA [--header H] [--count N]")
		return exitCode{code: 2}
	}
	client := &http.Client{Timeout: *timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 1; i <= *count; i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
		if err != nil {
			return exitCode{code: 2, msg: err.Error()}
		}
		resp, err := client.Do(req)
		if err != nil {
			return exitCode{code: exitFailed, msg: fmt.Sprintf("probe %d: upstream error: %v", i, err)}
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		got := cutover.ExtractFingerprint(resp.Header, body, *header, *expect)
		cache := resp.Header.Get("Cache-Status")
		if resp.Header.Get("Age") != "" && cache == "" {
			cache = "Age: " + resp.Header.Get("Age")
		}
		switch {
		case resp.StatusCode >= 500:
			return exitCode{code: exitFailed, msg: fmt.Sprintf("probe %d: upstream error: status %d", i, resp.StatusCode)}
		case !cutover.SameFingerprint(got, *expect):
			msg := fmt.Sprintf("probe %d: expected %s, got %q (status %d)", i, *expect, got, resp.StatusCode)
			if cache != "" {
				msg += "; the answer came from a cache (" + cache + "): purge it"
			}
			return exitCode{code: exitFailed, msg: msg}
		}
		fmt.Fprintf(stdout, "probe %d: %s ok\n", i, got)
	}
	fmt.Fprintf(stdout, "verified: %s is live at %s\n", *expect, *url)
	return nil
}
