package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/proxy/autotls"
)

func init() { adminCommands["tls"] = runTLS }

const tlsUsage = `usage:
  baton tls          each host with TLS, its certificate's issuer and expiry
  baton tls root     the internal CA's root certificate (PEM), for a browser or curl --cacert
`

func runTLS(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub := ""
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		sub, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("tls", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr, token := adminFlags(fs)
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || (sub != "" && sub != "root") {
		fmt.Fprint(stderr, tlsUsage)
		return exitCode{code: 2}
	}
	c := admin.NewClient(admin.ResolveAddr(*addr), *token)
	if sub == "root" {
		resp, err := c.Do(ctx, http.MethodGet, "/v1/tls/root", nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(stdout, resp.Body)
		return err
	}
	var certs []autotls.Certificate
	if err := c.GetJSON(ctx, "/v1/tls", &certs); err != nil {
		return err
	}
	if len(certs) == 0 {
		fmt.Fprintln(stdout, "no host has TLS (tls.ca is off, or every host is on plain HTTP)")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tCERTIFICATE\tISSUER\tEXPIRES\tHSTS\tLAST ERROR")
	for _, ct := range certs {
		state, expires := "pending", "-"
		if ct.Ready {
			state = "valid"
			expires = ct.NotAfter.UTC().Format(time.RFC3339) + " (in " + time.Until(ct.NotAfter).Round(time.Hour).String() + ")"
		}
		hsts := ct.HSTS
		if hsts == "" {
			hsts = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ct.Host, state, orDash(ct.Issuer), expires, hsts, orDash(ct.LastError))
	}
	return tw.Flush()
}
