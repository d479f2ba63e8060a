package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"

	"github.com/batonproxy/baton/admin"
)

func init() { adminCommands["upgrade"] = runUpgrade }

// exitUpgradeFailed: the new process did not become ready; the old one serves on.
const exitUpgradeFailed = 7

// runUpgrade asks the running baton to hand its sockets to the binary on disk
// (as SIGUSR2 does) and reports the outcome: 0 once the new process serves,
// non-zero with the reason (its exit status, its stderr) when it did not, in
// which case the old process is still serving.
func runUpgrade(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("upgrade", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr, token := adminFlags(fs)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		fmt.Fprintln(stderr, "usage: baton upgrade [--json]")
		return exitCode{code: 2}
	}
	c := admin.NewClient(admin.ResolveAddr(*addr), *token)
	resp, err := c.Do(ctx, http.MethodPost, "/v1/upgrade", nil)
	if err != nil {
		return exitCode{code: exitUpgradeFailed, msg: "upgrade failed; the running baton keeps serving: " + err.Error()}
	}
	defer resp.Body.Close()
	var res admin.UpgradeResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return exitCode{code: exitUpgradeFailed, msg: "upgrade: bad answer: " + err.Error()}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(stdout, "baton upgraded: pid %d (%s) -> pid %d (%s, %s)\n", res.OldPID, res.OldVersion, res.NewPID, res.NewVersion, res.Binary)
	for _, id := range res.HandedOff {
		fmt.Fprintf(stdout, "deploy %s goes on in the new process (baton history shows it)\n", id)
	}
	fmt.Fprintf(stdout, "the old process finishes its in-flight requests (bound %s) and exits\n", res.Drain)
	return nil
}
