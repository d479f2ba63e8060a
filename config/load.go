package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed defaults.yaml
var embeddedDefaults []byte

// Default returns the embedded defaults, read through the same parser as a file.
func Default() *Config {
	cfg, err := Parse("(embedded defaults)", embeddedDefaults)
	if err != nil {
		panic("embedded defaults invalid: " + err.Error())
	}
	cfg.File = ""
	return cfg
}

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse reads and validates a config named name (used in error messages).
func Parse(name string, data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	idx := newIndex(&root)
	cfg := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, errEOF) && err.Error() != "EOF" {
		return nil, idx.rewrite(name, err)
	}
	cfg.File = name
	cfg.DefaultsLine = map[string]int{}
	for k := range cfg.Defaults {
		cfg.DefaultsLine[k] = idx.line("defaults." + k)
	}
	for i := range cfg.Routes {
		cfg.Routes[i].Line = idx.line(fmt.Sprintf("routes[%d]", i))
	}
	applyDefaults(cfg)
	if _, set := idx.lines["admin.ui"]; !set {
		// A string cannot tell "absent" from "" (off): the file's own keys can.
		cfg.Admin.UI = DefaultUI
	}
	if errs := validate(cfg, idx, name); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

var errEOF = errors.New("EOF")

func applyDefaults(c *Config) {
	if c.Listen.HTTP == "" {
		c.Listen.HTTP = ":80"
	}
	if c.Admin.Socket == "" {
		c.Admin.Socket = "/run/baton/baton.sock"
	}
	if c.State.Dir == "" {
		c.State.Dir = "/var/lib/baton"
	}
	if c.TLS.CA == "" {
		c.TLS.CA = "off"
		if c.TLS.Email != "" {
			c.TLS.CA = "letsencrypt"
		}
	}
	if c.TLS.On() && c.Listen.HTTPS == "" {
		c.Listen.HTTPS = ":443"
	}
	if len(c.TLS.Challenges) == 0 {
		c.TLS.Challenges = []string{ChallengeHTTP01, ChallengeTLSALPN01}
	}
	if c.TLS.Storage == "" {
		c.TLS.Storage = c.State.Dir + "/certs"
	}
	if c.Cache.MaxSize == 0 {
		c.Cache.MaxSize = 64 << 20
	}
	for i := range c.Routes {
		if c.Routes[i].Path == "" {
			c.Routes[i].Path = "/"
		}
	}
	if c.Proxy.ReadHeaderTimeout == 0 {
		c.Proxy.ReadHeaderTimeout = 10e9
	}
	if c.Proxy.IdleTimeout == 0 {
		c.Proxy.IdleTimeout = 120e9
	}
	if c.Proxy.UpstreamHeaderTimeout == 0 {
		c.Proxy.UpstreamHeaderTimeout = 60e9
	}
	// As strict as nginx (large_client_header_buffers 4 8k) and haproxy
	// (tune.http.maxhdr 101) by default.
	if c.Proxy.MaxHeaderBytes == 0 {
		c.Proxy.MaxHeaderBytes = 32 << 10
	}
	if c.Proxy.MaxHeaderLineBytes == 0 {
		c.Proxy.MaxHeaderLineBytes = 8 << 10
	}
	if c.Proxy.MaxHeaderFields == 0 {
		c.Proxy.MaxHeaderFields = 100
	}
	if c.Upgrade.Timeout == 0 {
		c.Upgrade.Timeout = 60e9
	}
	if c.Upgrade.DrainTimeout == 0 {
		c.Upgrade.DrainTimeout = 30e9
	}
	if c.Log.Format == "" {
		c.Log.Format = "json"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
}

// index maps YAML key paths ("docker.network", "routes[1].host") to lines and back.
type index struct {
	lines map[string]int
	paths map[int]string
}

func newIndex(root *yaml.Node) *index {
	ix := &index{lines: map[string]int{}, paths: map[int]string{}}
	if len(root.Content) > 0 {
		ix.walk(root.Content[0], "")
	}
	return ix
}

func (ix *index) walk(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			ix.lines[p] = k.Line
			if _, ok := ix.paths[k.Line]; !ok || v.Kind == yaml.ScalarNode {
				ix.paths[k.Line] = p
			}
			ix.walk(v, p)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			ix.lines[p] = c.Line
			if _, ok := ix.paths[c.Line]; !ok {
				ix.paths[c.Line] = p
			}
			ix.walk(c, p)
		}
	}
}

func (ix *index) line(path string) int { return ix.lines[path] }

var (
	lineMsg      = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownField = regexp.MustCompile(`^field (\S+) not found in type`)
)

// rewrite turns yaml's "line N: ..." messages into "file:N: key.path: ...".
func (ix *index) rewrite(name string, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("%s: %w", name, err)
	}
	var out []error
	for _, msg := range te.Errors {
		m := lineMsg.FindStringSubmatch(msg)
		if m == nil {
			out = append(out, fmt.Errorf("%s: %s", name, msg))
			continue
		}
		line, _ := strconv.Atoi(m[1])
		text := m[2]
		key := ix.paths[line]
		if u := unknownField.FindStringSubmatch(text); u != nil {
			text = "unknown key"
			if !strings.HasSuffix(key, u[1]) {
				key = strings.TrimPrefix(key+"."+u[1], ".")
			}
		} else {
			text = strings.Replace(text, "cannot unmarshal !!str", "invalid value", 1)
		}
		out = append(out, fmt.Errorf("%s:%d: %s: %s", name, line, key, text))
	}
	return errors.Join(out...)
}
