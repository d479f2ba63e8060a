package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/batonproxy/baton/cutover"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/batonproxy/baton/admin"
)

func init() { adminCommands["status"] = runStatus }

// adminFlags are shared by every command that talks to a running baton.
func adminFlags(fs *flag.FlagSet) (addr, token *string) {
	addr = fs.String("admin", "", "admin API: socket path or host:port (default $BATON_ADMIN, else "+admin.DefaultSocket+")")
	token = fs.String("token", "", "admin token for a TCP address (default $BATON_ADMIN_TOKEN)")
	return addr, token
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr, token := adminFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return exitCode{code: 2}
	}
	c := admin.NewClient(admin.ResolveAddr(*addr), *token)
	var st admin.Status
	if err := c.GetJSON(ctx, "/v1/services", &st); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printStatus(stdout, st)
	return nil
}

// hostList shows the hosts served over HTTPS as https://host.
func hostList(s admin.ServiceStatus) string {
	secure := map[string]bool{}
	for _, h := range s.HTTPSHosts {
		secure[h] = true
	}
	out := make([]string, len(s.Hosts))
	for i, h := range s.Hosts {
		out[i] = h
		if secure[h] {
			out[i] = "https://" + h
		}
	}
	return strings.Join(out, ",")
}

func printStatus(w io.Writer, st admin.Status) {
	if b := st.Baton; b != nil {
		up := ""
		if b.Upgrading {
			up = ", upgrading"
		}
		fmt.Fprintf(w, "baton %s (pid %d, up since %s%s)\n\n", b.Version, b.PID, b.Started.Format(time.RFC3339), up)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tHOSTS\tLIVE\tVERIFIED\tLAST DEPLOY\tTARGETS")
	for _, s := range st.Services {
		var targets []string
		for _, t := range s.Targets {
			gate := ""
			if t.Gate != "" {
				gate = ", " + t.Gate
			}
			targets = append(targets, fmt.Sprintf("%s(%s,%d in flight%s)", t.Addr, t.State, t.InFlight, gate))
		}
		live := s.LiveVersion
		if live == "" {
			live = "-"
		}
		verified := s.Verified
		switch verified {
		case "":
			verified = "-"
		case cutover.Unverified:
			verified = "UNVERIFIED" // live, but nothing proved it: never shown like a verified one
		}
		last := "-"
		if d := s.LastDeploy; d != nil {
			last = d.Status
			if d.Cause != "" {
				last += " (" + d.Cause + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, orDash(hostList(s)), live, verified, last, strings.Join(targets, " "))
	}
	tw.Flush()
	if st.Docker != "" {
		fmt.Fprintf(w, "\ndocker: %s\n", st.Docker)
	}
	if len(st.Problems) > 0 {
		fmt.Fprintln(w, "\nproblems:")
		for _, p := range st.Problems {
			switch {
			case p.Error != "":
				fmt.Fprintf(w, "  %s: %s\n", orDash(p.Container), p.Error)
			case len(p.Ignored) > 0:
				fmt.Fprintf(w, "  %s: ignored Traefik labels: %s\n", p.Container, strings.Join(p.Ignored, ", "))
			}
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
