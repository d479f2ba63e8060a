package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/cutover"
)

// deployAll redeploys every service of a Compose project with the image its
// live containers name (after `docker compose build`, the tag points at the
// new build), one after another in dependency order, stopping at the first
// failure. An unverified service (live, unproven) does not stop the run, but
// the run then ends with exitUnverified.
func deployAll(ctx context.Context, c *admin.Client, project string, stdout io.Writer, asJSON bool) error {
	var st admin.Status
	if err := c.GetJSON(ctx, "/v1/services", &st); err != nil {
		return err
	}
	projects := map[string]bool{}
	var services []admin.ServiceStatus
	for _, s := range st.Services {
		if s.Project == "" {
			continue
		}
		projects[s.Project] = true
		if project == "" || s.Project == project {
			services = append(services, s)
		}
	}
	if project == "" && len(projects) > 1 {
		return exitCode{code: 2, msg: fmt.Sprintf("several Compose projects are running (%v): name one with --project", keys(projects))}
	}
	if len(services) == 0 {
		return exitCode{code: exitCouldNotStart, msg: "no Compose service found (baton deploy --all deploys the services of a Compose project)"}
	}
	order, err := dependencyOrder(services)
	if err != nil {
		return exitCode{code: 2, msg: err.Error()}
	}
	var unverified *exitCode
	for i, s := range order {
		fmt.Fprintf(stdout, "== %d/%d %s (%s)\n", i+1, len(order), s.Name, s.Image)
		resp, err := c.Do(ctx, http.MethodPost, "/v1/services/"+s.Name+"/deploy", admin.DeployRequest{Image: s.Image})
		if err != nil {
			return exitCode{code: exitCouldNotStart, msg: err.Error()}
		}
		err = followHandedOff(ctx, c, followDeploy(resp.Body, stdout, asJSON), stdout, asJSON)
		resp.Body.Close()
		var ec exitCode
		if errors.As(err, &ec) && ec.code == exitUnverified {
			// Live but unproven: the next services still go, and the run
			// ends non-zero.
			fmt.Fprintln(stdout, ec.msg)
			unverified = &ec
			continue
		}
		if err != nil {
			if i+1 < len(order) {
				fmt.Fprintf(stdout, "== stopped: %d service(s) not deployed\n", len(order)-i-1)
			}
			return err
		}
	}
	if unverified != nil {
		return exitCode{code: exitUnverified, msg: "every service deployed; some are unverified (see above)"}
	}
	return nil
}

// dependencyOrder is cutover.DeployOrder over the services' statuses.
func dependencyOrder(services []admin.ServiceStatus) ([]admin.ServiceStatus, error) {
	byName := map[string]admin.ServiceStatus{}
	deps := map[string][]string{}
	for _, s := range services {
		byName[s.Name], deps[s.Name] = s, s.DependsOn
	}
	names, err := cutover.DeployOrder(deps)
	if err != nil {
		return nil, err
	}
	out := make([]admin.ServiceStatus, len(names))
	for i, n := range names {
		out[i] = byName[n]
	}
	return out, nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
