package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/batonproxy/baton/check"
	"github.com/batonproxy/baton/config"
	"github.com/batonproxy/baton/proxy/middleware"
)

// composeDefaults are the files Compose reads when none is named, in its order.
var composeDefaults = []string{"compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"}

// stringList is a repeatable flag (-f a.yaml -f b.yaml).
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// runCheck is `baton check [FILE...]`: what baton will route and refuse for a
// Compose project. Exit 0 when everything is routable, 1 when anything is
// refused, 2 when a file (Compose or baton.yaml) cannot be read.
func runCheck(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files stringList
	fs.Var(&files, "f", "a Compose file (repeat to override in order, as docker compose -f); - reads stdin")
	configPath := fs.String("config", "", "the baton.yaml the project will be served with (default: embedded defaults)")
	project := fs.String("project-name", "", "Compose project name (default $COMPOSE_PROJECT_NAME, else the file's name:, else the directory)")
	fs.StringVar(project, "p", "", "short for --project-name")
	asJSON := fs.Bool("json", false, "print JSON")
	// Flags may follow the files: baton check compose.yaml --json.
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return exitCode{code: 2}
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return exitCode{code: 2, msg: err.Error()}
	}
	p, err := readProject(files, *project, stdin)
	if err != nil {
		return exitCode{code: 2, msg: err.Error()}
	}
	o, err := checkOptions(cfg)
	if err != nil {
		return exitCode{code: 2, msg: err.Error()}
	}
	r := check.Check(p, o)
	for _, w := range r.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		printCheck(stdout, r)
	}
	if !r.Routable {
		return exitCode{code: 1}
	}
	return nil
}

// checkOptions are serve's settings from cfg, as serve reads them.
func checkOptions(cfg *config.Config) (check.Options, error) {
	defaults, err := labelDefaults(cfg)
	if err != nil {
		return check.Options{}, err
	}
	return check.Options{
		Defaults: defaults, ExposedByDefault: cfg.Docker.ExposedByDefault, TraefikLabels: cfg.Docker.Traefik(),
		Constraint: cfg.Docker.Constraint, Network: cfg.Docker.Network, Transports: cfg.HasTransport, DockerOff: !cfg.Docker.On(),
		HTTPS: cfg.TLS.On(), Static: staticRoutes(cfg),
		// Which client address a middleware sees (proxy.trusted_proxies) is
		// decided per request; it changes nothing about what is routed.
		MiddlewareEnv: middleware.Env{},
	}, nil
}

// readProject reads the Compose files (the default names when none is
// given; - is stdin) with Compose's environment: the shell's, then the
// project directory's .env.
func readProject(files []string, name string, stdin io.Reader) (*check.Project, error) {
	if len(files) == 0 && os.Getenv("COMPOSE_FILE") != "" {
		files = filepath.SplitList(os.Getenv("COMPOSE_FILE")) // as Compose: a path list
	}
	if len(files) == 0 {
		for _, f := range composeDefaults {
			if _, err := os.Stat(f); err == nil {
				files = []string{f}
				break
			}
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("no Compose file named, and none of %s here", strings.Join(composeDefaults, ", "))
		}
	}
	dir := "."
	if files[0] != "-" {
		dir = filepath.Dir(files[0])
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	dotenv := map[string]string{}
	if data, err := os.ReadFile(filepath.Join(dir, ".env")); err == nil {
		dotenv = check.ParseDotEnv(data)
	}
	lookup := func(k string) (string, bool) {
		if v, ok := os.LookupEnv(k); ok {
			return v, true
		}
		v, ok := dotenv[k]
		return v, ok
	}
	var parsed []*check.File
	names := make([]string, len(files))
	for i, f := range files {
		var data []byte
		names[i] = f
		if f == "-" {
			names[i] = "(stdin)"
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(f)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", names[i], err)
		}
		pf, err := check.Parse(names[i], data, lookup)
		if err != nil {
			return nil, err
		}
		parsed = append(parsed, pf)
	}
	if name == "" {
		name = os.Getenv("COMPOSE_PROJECT_NAME")
	}
	name = check.ProjectName(name, parsed, abs)
	if name == "" {
		return nil, errors.New("no project name: the directory's name has no letter or digit; set --project-name")
	}
	return check.NewProject(name, names, parsed), nil
}

// printCheck prints one block per service: its verdict, then what it
// routes and what is refused, each refusal with its file:line and label.
func printCheck(w io.Writer, r check.Report) {
	tls := "TLS off: HTTP only"
	if r.HTTPS {
		tls = "TLS on: HTTPS, and HTTP redirected"
	}
	fmt.Fprintf(w, "project %s (%s), baton with %s\n", r.Project, strings.Join(r.Files, ", "), tls)
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  refused: %s\n", p)
	}
	counts := map[string]int{}
	for _, s := range r.Services {
		counts[s.Verdict]++
		fmt.Fprintln(w)
		head := s.Compose
		if s.Service != "" {
			head += " (service " + s.Service + ")"
		}
		verdict := s.Verdict
		if verdict == check.Refused || verdict == check.Partly {
			verdict = strings.ToUpper(verdict)
		}
		switch s.Verdict {
		case check.Worker:
			fmt.Fprintf(w, "%s: worker: deployed by baton, no host routed to it\n", head)
		case check.NotHandled:
			fmt.Fprintf(w, "%s: not handled: %s\n", head, s.Note)
		case check.Refused:
			if s.Note != "" { // labels baton never sees (deploy.labels)
				fmt.Fprintf(w, "%s: %s (as written, not handled: %s)\n", head, verdict, s.Note)
				break
			}
			fmt.Fprintf(w, "%s: %s\n", head, verdict)
		default:
			fmt.Fprintf(w, "%s: %s\n", head, verdict)
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, rt := range s.Routes {
			where := rt.Host + rt.Path
			if rt.Rule != "" {
				where = rt.Rule
			}
			router := rt.Router
			if router == "" {
				router = "baton.host"
			}
			fmt.Fprintf(tw, "  route\t%s\t%s\t-> :%d\t%s", router, where, rt.Port, rt.Listeners)
			if len(rt.Middlewares) > 0 {
				fmt.Fprintf(tw, "\tmiddlewares %s", strings.Join(rt.Middlewares, ", "))
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
		for _, ref := range s.Refusals {
			label := ref.Label
			if ref.Value != "" {
				label += "=" + ref.Value
			}
			if ref.Router != "" {
				label = "router " + ref.Router + ": " + label
			}
			fmt.Fprintf(w, "  refused  %s  %s\n           %s\n", ref.At, label, ref.Reason)
			if ref.Note != "" {
				fmt.Fprintf(w, "           (%s)\n", ref.Note)
			}
		}
		for _, l := range s.Ignored {
			fmt.Fprintf(w, "  ignored  %s  %s (changes nothing at the door)\n", l.At, l.Label)
		}
	}
	fmt.Fprintln(w)
	var sum []string
	for _, v := range []string{check.Routed, check.Partly, check.Refused, check.Worker, check.NotHandled} {
		if counts[v] > 0 {
			sum = append(sum, fmt.Sprintf("%d %s", counts[v], v))
		}
	}
	verdict := "everything is routable"
	if !r.Routable {
		verdict = "something is refused (exit 1)"
	}
	fmt.Fprintf(w, "%s: %s\n", strings.Join(sum, ", "), verdict)
}
