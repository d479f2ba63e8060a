package status

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/cutover"
)

// Print writes the table `baton status` shows.
func Print(w io.Writer, st admin.Status) {
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
			verified = VerdictUnverified // live, but nothing proved it: never shown like a verified one
		}
		last := "-"
		if d := s.LastDeploy; d != nil {
			last = d.Status
			if d.Cause != "" {
				last += " (" + d.Cause + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, orDash(HostList(s)), live, verified, last, strings.Join(targets, " "))
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

// HostList shows the hosts served over HTTPS as https://host.
func HostList(s admin.ServiceStatus) string {
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

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
