package check

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// Lookup finds an environment variable: the shell's first, then the
// project's .env file, as Compose looks them up.
type Lookup func(name string) (string, bool)

// interpolate substitutes variables in a Compose value as Compose does
// (compose-spec, "Interpolation"): $$ is a literal $; $VAR and ${VAR} are
// the variable's value; ${VAR:-d} and ${VAR-d} give d when VAR is unset or
// empty, or unset; ${VAR:?e} and ${VAR?e} are an error then; ${VAR:+r} and
// ${VAR+r} give r when VAR is set and not empty, or set. An unset variable
// with no default is the empty string, with a warning (Compose's "variable
// is not set. Defaulting to a blank string"). A $ followed by anything else
// is an error, as in Compose. Defaults may hold variables themselves.
func interpolate(s string, env Lookup) (string, []string, error) {
	if !strings.Contains(s, "$") {
		return s, nil, nil
	}
	var b strings.Builder
	var warns []string
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return "", nil, fmt.Errorf("invalid interpolation in %q: a lone $ at the end (write $$ for a literal $)", s)
		}
		switch n := s[i+1]; {
		case n == '$':
			b.WriteByte('$')
			i++
		case n == '{':
			end := closingBrace(s, i+2)
			if end < 0 {
				return "", nil, fmt.Errorf("invalid interpolation in %q: ${ without its closing }", s)
			}
			v, w, err := braced(s[i+2:end], env)
			if err != nil {
				return "", nil, fmt.Errorf("invalid interpolation in %q: %w", s, err)
			}
			b.WriteString(v)
			warns = append(warns, w...)
			i = end
		case isNameStart(n):
			j := i + 1
			for j < len(s) && isNameChar(s[j]) {
				j++
			}
			name := s[i+1 : j]
			v, ok := env(name)
			if !ok {
				warns = append(warns, "variable "+name+" is not set: defaulting to a blank string, as Compose does")
			}
			b.WriteString(v)
			i = j - 1
		default:
			return "", nil, fmt.Errorf("invalid interpolation in %q: $%c (write $$ for a literal $)", s, n)
		}
	}
	return b.String(), warns, nil
}

// braced evaluates the inside of ${...}.
func braced(expr string, env Lookup) (string, []string, error) {
	j := 0
	for j < len(expr) && isNameChar(expr[j]) {
		j++
	}
	name, op := expr[:j], expr[j:]
	if name == "" || !isNameStart(name[0]) {
		return "", nil, fmt.Errorf("${%s}: not a variable name", expr)
	}
	v, set := env(name)
	if op == "" {
		if !set {
			return "", []string{"variable " + name + " is not set: defaulting to a blank string, as Compose does"}, nil
		}
		return v, nil, nil
	}
	var kind, arg string
	switch {
	case strings.HasPrefix(op, ":-"), strings.HasPrefix(op, ":?"), strings.HasPrefix(op, ":+"):
		kind, arg = op[:2], op[2:]
	case op[0] == '-' || op[0] == '?' || op[0] == '+':
		kind, arg = op[:1], op[1:]
	default:
		return "", nil, fmt.Errorf("${%s}: unknown modifier %q", expr, op)
	}
	empty := !set || (kind[0] == ':' && v == "")
	switch kind[len(kind)-1] {
	case '-':
		if empty {
			return interpolate(arg, env)
		}
		return v, nil, nil
	case '?':
		if empty {
			return "", nil, fmt.Errorf("required variable %s is missing a value: %s", name, arg)
		}
		return v, nil, nil
	default: // '+'
		if empty {
			return "", nil, nil
		}
		return interpolate(arg, env)
	}
}

// closingBrace finds the } that closes the ${ opened before from, allowing
// nested ${...} in a default.
func closingBrace(s string, from int) int {
	depth := 1
	for i := from; i < len(s); i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			depth++
			i++
		case s[i] == '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

func isNameStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isNameChar(c byte) bool  { return isNameStart(c) || c >= '0' && c <= '9' }

// ParseDotEnv reads a Compose .env file: KEY=VALUE lines, # comments,
// optional "export ", values optionally in single or double quotes.
func ParseDotEnv(data []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		} else if i := strings.Index(v, " #"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		out[k] = v
	}
	return out
}
