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
	if err := fs.Parse(args[2:]); err != nil {
		return exitCode{code: 2}
	}
	req := admin.PurgeRequest{Service: args[1]}
	if fs.NArg() > 0 {
		req.Path = fs.Arg(0)
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
