package check

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// FileError is a Compose file baton check cannot read: the file, the line
// (yaml.v3 counts from 1; 0 when unknown) and why.
type FileError struct {
	File   string
	Line   int
	Reason string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Reason)
}

// Service is one Compose service, as the containers of it will carry it.
type Service struct {
	Name          string
	Image         string
	ContainerName string
	// Labels are the container labels (labels:, a map or a list of k=v).
	Labels map[string]string
	// DeployLabels are deploy.labels: Swarm service labels, which Compose
	// does not put on containers.
	DeployLabels map[string]string
	// Where is the file:line of each label (its last definition); deploy
	// labels under "deploy.labels." + key.
	Where map[string]string
	// Ports are the container ports Compose exposes ("8080/tcp"): expose
	// and the container side of ports.
	Ports       []string
	Networks    []string // the service's networks (Compose keys), in order; nil = default
	NetworkMode string   // network_mode, "" when unset
	Pos         string   // file:line of the service's key
}

// File is one Compose file as read.
type File struct {
	Name     string // top-level name:, the project name it sets
	Services []Service
	Networks map[string]string // Compose network key -> its Docker name when set (name:, external)
	External map[string]bool   // networks marked external (their Docker name is the key, or name:)
	Warnings []string
}

// Parse reads one Compose file (the formats docker-compose 1.29 and
// `docker compose config` print: version 2 and 3 files, the Compose spec).
// Values are interpolated with env as Compose interpolates them.
func Parse(file string, data []byte, env Lookup) (*File, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(file, err)
	}
	if len(root.Content) == 0 {
		return nil, &FileError{File: file, Reason: "empty: no services"}
	}
	r := &reader{file: file, env: env}
	doc := deref(root.Content[0])
	if doc.Kind != yaml.MappingNode {
		return nil, &FileError{File: file, Line: doc.Line, Reason: "not a Compose file: the top level is not a mapping"}
	}
	f := &File{Networks: map[string]string{}, External: map[string]bool{}}
	var services *yaml.Node
	for _, kv := range r.pairs(doc) {
		k, v := kv[0], kv[1]
		switch k.Value {
		case "services":
			services = v
		case "name":
			f.Name = r.str(v)
		case "networks":
			for _, nkv := range r.pairs(v) {
				r.network(f, nkv[0].Value, nkv[1])
			}
		case "include":
			return nil, &FileError{File: file, Line: k.Line, Reason: "include: is not read by baton check; check the merged file: docker compose config | baton check -"}
		}
	}
	if services == nil {
		return nil, &FileError{File: file, Line: doc.Line, Reason: "no services: key (a Compose file of the version 1 format, or not a Compose file); baton check reads version 2 and 3 files and the Compose spec"}
	}
	if services.Kind != yaml.MappingNode {
		return nil, &FileError{File: file, Line: services.Line, Reason: "services: is not a mapping of service names"}
	}
	for _, kv := range r.pairs(services) {
		s, err := r.service(kv[0], kv[1])
		if err != nil {
			return nil, err
		}
		f.Services = append(f.Services, s)
	}
	if r.err != nil {
		return nil, r.err
	}
	f.Warnings = r.warnings
	return f, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError names the file and the line yaml.v3 reports.
func yamlError(file string, err error) error {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &FileError{File: file, Line: n, Reason: m[2]}
	}
	return &FileError{File: file, Reason: strings.TrimPrefix(err.Error(), "yaml: ")}
}

// reader carries what every value needs: the file, the environment, the
// first error and the warnings.
type reader struct {
	file      string
	env       Lookup
	err       error
	warnings  []string
	merged    int // pairs brought in by merge keys so far (mergeBudget)
	portCount int // ports read so far
}

func (r *reader) pos(n *yaml.Node) string { return fmt.Sprintf("%s:%d", r.file, n.Line) }

func (r *reader) fail(n *yaml.Node, format string, args ...any) {
	if r.err == nil {
		r.err = &FileError{File: r.file, Line: n.Line, Reason: fmt.Sprintf(format, args...)}
	}
}

// str is a scalar's value, interpolated; a null is "".
func (r *reader) str(n *yaml.Node) string {
	n = deref(n)
	if n.Kind != yaml.ScalarNode {
		r.fail(n, "want a single value here, not a list or mapping")
		return ""
	}
	if n.Tag == "!!null" {
		return ""
	}
	v, warns, err := interpolate(n.Value, r.env)
	if err != nil {
		r.fail(n, "%v", err)
	}
	for _, w := range warns {
		r.warnings = append(r.warnings, r.pos(n)+": "+w)
	}
	return v
}

func (r *reader) network(f *File, key string, v *yaml.Node) {
	for _, kv := range r.pairs(v) {
		switch kv[0].Value {
		case "name":
			f.Networks[key] = r.str(kv[1])
		case "external":
			ext := deref(kv[1])
			switch ext.Kind {
			case yaml.ScalarNode:
				f.External[key] = r.str(ext) == "true"
			case yaml.MappingNode: // version 2/3 files: external: {name: x}
				f.External[key] = true
				for _, e := range r.pairs(ext) {
					if e[0].Value == "name" {
						f.Networks[key] = r.str(e[1])
					}
				}
			}
		}
	}
}

func (r *reader) service(key, v *yaml.Node) (Service, error) {
	s := Service{Name: key.Value, Labels: map[string]string{}, DeployLabels: map[string]string{}, Where: map[string]string{}, Pos: r.pos(key)}
	v = deref(v)
	if v.Kind != yaml.MappingNode {
		return s, &FileError{File: r.file, Line: v.Line, Reason: "service " + s.Name + " is not a mapping"}
	}
	for _, kv := range r.pairs(v) {
		k, val := kv[0], kv[1]
		switch k.Value {
		case "image":
			s.Image = r.str(val)
		case "container_name":
			s.ContainerName = r.str(val)
		case "labels":
			r.labels(val, s.Labels, s.Where, "")
		case "deploy":
			for _, d := range r.pairs(val) {
				if d[0].Value == "labels" {
					r.labels(d[1], s.DeployLabels, s.Where, "deploy.labels.")
				}
			}
		case "expose":
			for _, p := range items(val) {
				s.Ports = append(s.Ports, r.ports(p, r.str(p))...)
			}
		case "ports":
			for _, p := range items(val) {
				s.Ports = append(s.Ports, r.publishedPorts(p)...)
			}
		case "networks":
			switch n := deref(val); n.Kind {
			case yaml.SequenceNode:
				for _, item := range n.Content {
					s.Networks = append(s.Networks, r.str(item))
				}
			case yaml.MappingNode:
				for _, nkv := range r.pairs(n) {
					s.Networks = append(s.Networks, nkv[0].Value)
				}
			}
		case "network_mode":
			s.NetworkMode = r.str(val)
		case "label_file":
			return s, &FileError{File: r.file, Line: k.Line, Reason: "service " + s.Name + ": label_file: is not read by baton check, and its labels would be missed; check the merged file: docker compose config | baton check -"}
		case "extends":
			return s, &FileError{File: r.file, Line: k.Line, Reason: "service " + s.Name + ": extends: is not read by baton check; check the merged file: docker compose config | baton check -"}
		}
	}
	return s, r.err
}

// labels reads labels: as a mapping or as a list of "key=value" (a key
// alone is an empty value), as Compose does.
func (r *reader) labels(n *yaml.Node, into map[string]string, where map[string]string, prefix string) {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		for _, kv := range r.pairs(n) {
			r.label(kv[0], kv[0].Value, r.str(kv[1]), into, where, prefix)
		}
	case yaml.SequenceNode:
		for _, item := range n.Content {
			k, v, _ := strings.Cut(r.str(item), "=")
			r.label(item, k, v, into, where, prefix)
		}
	case yaml.ScalarNode:
		if n.Tag != "!!null" {
			r.fail(n, "labels: want a mapping or a list of key=value")
		}
	}
}

// label sets one label; one written twice in a file is ambiguous (YAML
// forbids a key twice in a mapping; Compose, a label twice), so the file
// is refused rather than one of them guessed.
func (r *reader) label(n *yaml.Node, k, v string, into, where map[string]string, prefix string) {
	if prev, dup := where[prefix+k]; dup && strings.HasPrefix(prev, r.file+":") {
		r.fail(n, "label %s is set twice (also at %s)", k, prev)
		return
	}
	into[k] = v
	where[prefix+k] = r.pos(n)
}

// deref follows an alias (*anchor) to its node.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// mergeBudget bounds the key/value pairs merge keys may bring in over a
// whole file: merges of merges of one anchor grow exponentially (an alias
// bomb), and a file past it is refused rather than read in part.
const mergeBudget = 100000

// pairs is a mapping's key/value pairs with merge keys (<<: *anchor, or a
// list of them) applied: the mapping's own keys win over merged ones, as
// YAML's merge key type says.
func (r *reader) pairs(n *yaml.Node) [][2]*yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var own, merged [][2]*yaml.Node
	line := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if prev, dup := line[k.Value]; dup && k.Tag != "!!merge" {
			// YAML forbids it, Compose refuses it: which one counts is a guess.
			r.fail(k, "%s is written twice in one mapping (also at line %d)", k.Value, prev)
			continue
		}
		line[k.Value] = k.Line
		if k.Value == "<<" && k.Tag == "!!merge" {
			if r.merged += len(deref(v).Content); r.merged > mergeBudget {
				r.fail(k, "merge keys expand to more than %d entries (an alias bomb?); refused", mergeBudget)
				return nil
			}
			v = deref(v)
			if v.Kind == yaml.SequenceNode {
				for _, m := range v.Content {
					merged = append(merged, r.pairs(m)...)
				}
			} else {
				merged = append(merged, r.pairs(v)...)
			}
			continue
		}
		own = append(own, [2]*yaml.Node{k, v})
	}
	if len(merged) == 0 {
		return own
	}
	seen := map[string]bool{}
	for _, kv := range own {
		seen[kv[0].Value] = true
	}
	out := own
	for _, kv := range merged {
		if !seen[kv[0].Value] {
			seen[kv[0].Value] = true
			out = append(out, kv)
		}
	}
	return out
}

// items is a sequence's items; a single scalar is one item.
func items(n *yaml.Node) []*yaml.Node {
	n = deref(n)
	switch n.Kind {
	case yaml.SequenceNode:
		return n.Content
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil
		}
		return []*yaml.Node{n}
	}
	return nil
}
