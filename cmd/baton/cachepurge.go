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

func init() { adminCommands["cache"] = runCache }

func runCache(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) < 2 || args[0] != "purge" {
		fmt.Fprintln(stderr, "usage: baton cache purge SERVICE [PATH]")
		return exitCode{code: 2}
	}
	fs := flag.NewFlagSet("cache purge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr, token := adminFlags(fs)
	// Flags may come before or after PATH (flag stops at the first argument).
	if err := fs.Parse(args[2:]); err != nil {
		return exitCode{code: 2}
	}
	req := admin.PurgeRequest{Service: args[1]}
	if fs.NArg() > 0 {
		req.Path = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return exitCode{code: 2}
		}
		if fs.NArg() > 0 {
			return exitCode{code: 2, msg: fmt.Sprintf("cache purge: unexpected argument %q after PATH %s", fs.Arg(0), req.Path)}
		}
	}
	if req.Path != "" && req.Path[0] != '/' {
		return exitCode{code: 2, msg: fmt.Sprintf("cache purge: PATH %q must start with /", req.Path)}
	}
	c := admin.NewClient(admin.ResolveAddr(*addr), *token)
	resp, err := c.Do(ctx, http.MethodPost, "/v1/cache/purge", req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct{ Removed int }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "purged %d cached responses of %s%s\n", out.Removed, req.Service, req.Path)
	return nil
}
