package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/batonproxy/baton/cutover"
)

func init() { adminCommands["verify"] = runVerify }

// runVerify is the verify-after-deploy probe from outside: through a CDN or a
// second proxy, the way users reach the app (cutover.VerifyURL: the deploy's
// own probe and diagnosis). Exit 0 only when every answer carries the
// expected fingerprint.
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
	got, err := cutover.VerifyURL(ctx, *url, *expect, *header, *count, *timeout)
	for i, fp := range got {
		fmt.Fprintf(stdout, "probe %d: %s ok\n", i+1, fp)
	}
	var verr *cutover.VerifyError
	switch {
	case errors.As(err, &verr):
		return exitCode{code: exitFailed, msg: verr.Error() + "\nhint: " + verr.Hint()}
	case err != nil:
		return exitCode{code: 2, msg: err.Error()}
	}
	fmt.Fprintf(stdout, "verified: %s is live at %s\n", *expect, *url)
	return nil
}
