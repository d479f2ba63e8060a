package rule

import (
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Rule is a compiled router rule. It is immutable and safe for concurrent use.
type Rule struct {
	src       string
	root      *node
	canon     string
	needsIP   bool
	needsPath bool
	v2Forms   bool
}

type kind uint8

const (
	kAnd kind = iota
	kOr
	kHost
	kHostRegexp
	kPath
	kPathPrefix
	kPathRegexp
	kMethod
	kHeader
	kHeaderRegexp
	kQuery
	kQueryRegexp
	kClientIP
)

// node is an operator (kAnd, kOr: left and right) or a matcher (a leaf,
// negated when not is set: Traefik pushes ! down to the matchers, and so does
// Parse).
type node struct {
	kind        kind
	not         bool
	left, right *node

	name string   // the matcher's canonical name, for String
	args []string // its values as written (unquoted), for String

	s  string // Host: lower case; Path, PathPrefix; Method: upper case; Header*: canonical key; Query*: key
	v  string // Header, Query: the value
	re *regexp.Regexp
	// HostRegexp: the regexp matches "" (Traefik also tries it on the
	// CNAME-flattened host, "" when flattening is off, so it matches every
	// request).
	reEmpty bool
	// Host: "*" (any request) or a leading "*." (one label).
	anyHost, wild bool
	prefix        netip.Prefix // ClientIP
}

// maxDepth bounds nesting (parentheses and !), so a hostile rule cannot
// exhaust the stack.
const maxDepth = 64

// Error is a rule Parse refused: the rule, the offset in it, and what is wrong.
type Error struct {
	Rule   string
	Offset int
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("rule %q: %s (at offset %d)", e.Rule, e.Reason, e.Offset)
}

type posError struct {
	pos    int
	reason string
}

func errAt(pos int, format string, a ...any) *posError {
	return &posError{pos: pos, reason: fmt.Sprintf(format, a...)}
}

// Parse compiles a Traefik v3 rule. The error is an *Error.
func Parse(src string) (*Rule, error) {
	if i := badByte(src); i >= 0 {
		return nil, &Error{Rule: src, Offset: i, Reason: "invalid UTF-8, a NUL or a byte order mark: Go's parser refuses them"}
	}
	p := &parser{lex: lexer{src: src}}
	root, perr := p.parse()
	if perr != nil {
		return nil, &Error{Rule: src, Offset: perr.pos, Reason: perr.reason}
	}
	r := &Rule{src: src, root: root}
	walk(root, func(n *node) {
		switch n.kind {
		case kClientIP:
			r.needsIP = true
		case kPath, kPathPrefix, kPathRegexp:
			r.needsPath = true
		}
	})
	r.v2Forms = p.v2Forms
	r.canon = root.String()
	return r, nil
}

func badByte(s string) int {
	for i := 0; i < len(s); {
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 || c == 0 || c == '\uFEFF' {
			return i
		}
		i += size
	}
	return -1
}

func walk(n *node, f func(*node)) {
	if n.kind == kAnd || n.kind == kOr {
		walk(n.left, f)
		walk(n.right, f)
		return
	}
	f(n)
}

// Source is the rule as given to Parse.
func (r *Rule) Source() string { return r.src }

// String is the rule in a canonical form: every value in backticks (double
// quotes when it holds a backtick or a CR), ! pushed down to the matchers,
// several values of Host or PathPrefix written as alternatives, parentheses
// only where precedence needs them. Parse(String()) is the same rule.
func (r *Rule) String() string { return r.canon }

// Priority is Traefik's default priority for the rule: its length in bytes.
func (r *Rule) Priority() int { return len(r.src) }

// NeedsClientIP reports whether Match reads its clientIP argument (the rule
// has a ClientIP matcher); when not, any value will do, so callers need not
// compute it.
func (r *Rule) NeedsClientIP() bool { return r.needsIP }

// V2Forms reports whether the rule uses a form Traefik v3 refuses under its
// default syntax but v2 accepted: several hosts in one Host or several
// prefixes in one PathPrefix. Parse reads them as alternatives, as v2 did;
// Traefik v3 would put the router in error.
func (r *Rule) V2Forms() bool { return r.v2Forms }

type parser struct {
	lex     lexer
	tok     token
	depth   int
	v2Forms bool
}

func (p *parser) advance() *posError {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) parse() (*node, *posError) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokEOF {
		return nil, errAt(0, "the rule is empty")
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, errAt(p.tok.pos, "unexpected %s after a complete rule; join matchers with && or ||", p.tok.describe())
	}
	return n, nil
}

// or and and parse left-associative chains of one operator; && binds
// tighter, as in Go (Traefik parses rules with Go's parser).
func (p *parser) or() (*node, *posError) { return p.chain(tokOr, kOr, p.and) }

func (p *parser) and() (*node, *posError) { return p.chain(tokAnd, kAnd, p.unary) }

func (p *parser) chain(op tokKind, k kind, operand func() (*node, *posError)) (*node, *posError) {
	left, err := operand()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == op {
		if err := p.advance(); err != nil {
			return nil, err
		}
		right, err := operand()
		if err != nil {
			return nil, err
		}
		left = &node{kind: k, left: left, right: right}
	}
	return left, nil
}

func (p *parser) unary() (*node, *posError) {
	if p.depth++; p.depth > maxDepth {
		return nil, errAt(p.tok.pos, "nested more than %d deep", maxDepth)
	}
	defer func() { p.depth-- }()
	switch p.tok.kind {
	case tokNot:
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		return invert(n), nil
	case tokLParen:
		open := p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tokRParen {
			return nil, errAt(p.tok.pos, "want ) to close the ( at offset %d, found %s", open, p.tok.describe())
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		return n, nil
	case tokIdent:
		return p.call()
	}
	return nil, errAt(p.tok.pos, "want a matcher, ( or !, found %s", p.tok.describe())
}

// invert is Traefik's negation: De Morgan down to the matchers.
func invert(n *node) *node {
	switch n.kind {
	case kAnd:
		n.kind = kOr
		n.left, n.right = invert(n.left), invert(n.right)
	case kOr:
		n.kind = kAnd
		n.left, n.right = invert(n.left), invert(n.right)
	default:
		n.not = !n.not
	}
	return n
}

func (p *parser) call() (*node, *posError) {
	name, pos := p.tok.text, p.tok.pos
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind != tokLParen {
		return nil, errAt(p.tok.pos, "want ( after %s, found %s", name, p.tok.describe())
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	var args []string
	var argPos []int
	for p.tok.kind != tokRParen {
		if p.tok.kind != tokString {
			return nil, errAt(p.tok.pos, "%s: want a value in backticks or double quotes, found %s", name, p.tok.describe())
		}
		args = append(args, p.tok.text)
		argPos = append(argPos, p.tok.pos)
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind == tokComma {
			if err := p.advance(); err != nil {
				return nil, err
			}
			continue
		}
		if p.tok.kind != tokRParen {
			return nil, errAt(p.tok.pos, "%s: want , or ) after a value, found %s", name, p.tok.describe())
		}
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return p.matcher(name, pos, args, argPos)
}

type spec struct {
	kind     kind
	min, max int // number of values; max -1: any (v2 form: alternatives)
}

// matchers are Traefik v3's HTTP matchers and how many values each takes
// (pkg/muxer/http/matcher.go: expectNParameters).
var matchers = map[string]spec{
	"ClientIP":     {kClientIP, 1, 1},
	"Method":       {kMethod, 1, 1},
	"Host":         {kHost, 1, -1},
	"HostRegexp":   {kHostRegexp, 1, 1},
	"Path":         {kPath, 1, 1},
	"PathRegexp":   {kPathRegexp, 1, 1},
	"PathPrefix":   {kPathPrefix, 1, -1},
	"Header":       {kHeader, 2, 2},
	"HeaderRegexp": {kHeaderRegexp, 2, 2},
	"Query":        {kQuery, 1, 2},
	"QueryRegexp":  {kQueryRegexp, 1, 2},
}

// v2Only are Traefik v2 matcher names v3 dropped, with what to write instead.
var v2Only = map[string]string{
	"headers":       "Header(`key`, `value`)",
	"headersregexp": "HeaderRegexp(`key`, `regexp`)",
	"hostheader":    "Host(`domain`)",
}

// lookupMatcher finds a matcher under the spellings Traefik registers for
// each: as documented, lower case, upper case, and title case
// (pkg/rules/parser.go).
func lookupMatcher(name string) (string, spec, bool) {
	for canon, s := range matchers {
		lower := strings.ToLower(canon)
		if name == canon || name == lower || name == strings.ToUpper(canon) || name == strings.ToUpper(lower[:1])+lower[1:] {
			return canon, s, true
		}
	}
	return "", spec{}, false
}

func (p *parser) matcher(name string, pos int, args []string, argPos []int) (*node, *posError) {
	canon, sp, ok := lookupMatcher(name)
	if !ok {
		if hint, v2 := v2Only[strings.ToLower(name)]; v2 {
			return nil, errAt(pos, "%s is a Traefik v2 matcher; v3 has %s", name, hint)
		}
		if strings.EqualFold(name, "HostSNI") || strings.EqualFold(name, "HostSNIRegexp") || strings.EqualFold(name, "ALPN") {
			return nil, errAt(pos, "%s is a TCP router matcher, not an HTTP one", name)
		}
		return nil, errAt(pos, "unknown matcher %s (Traefik v3 has ClientIP, Header, HeaderRegexp, Host, HostRegexp, Method, Path, PathPrefix, PathRegexp, Query, QueryRegexp)", name)
	}
	if len(args) < sp.min || sp.max >= 0 && len(args) > sp.max {
		want := fmt.Sprint(sp.min)
		if sp.max != sp.min {
			want = fmt.Sprintf("%d or %d", sp.min, sp.max)
		}
		return nil, errAt(pos, "%s takes %s value(s), got %d", canon, want, len(args))
	}
	for i, a := range args {
		if a == "" {
			return nil, errAt(argPos[i], "%s: empty value", canon)
		}
	}
	if sp.max < 0 && len(args) > 1 {
		// Traefik v2's several values, alternatives; v3 refuses them.
		p.v2Forms = true
		var out *node
		for i, a := range args {
			n, err := build(canon, sp.kind, []string{a}, argPos[i:i+1])
			if err != nil {
				return nil, err
			}
			if out == nil {
				out = n
			} else {
				out = &node{kind: kOr, left: out, right: n}
			}
		}
		return out, nil
	}
	return build(canon, sp.kind, args, argPos)
}

// build compiles one matcher with a valid number of non-empty values.
func build(name string, k kind, args []string, argPos []int) (*node, *posError) {
	n := &node{kind: k, name: name, args: args}
	a := args[0]
	switch k {
	case kHost:
		if err := checkHost(a); err != "" {
			return nil, errAt(argPos[0], "Host(%q): %s", a, err)
		}
		n.s = strings.ToLower(a)
		n.args = []string{n.s}
		n.anyHost = n.s == "*"
		n.wild = strings.HasPrefix(n.s, "*.")
	case kHostRegexp:
		if !isASCII(a) {
			return nil, errAt(argPos[0], "HostRegexp(%q): non-ASCII characters are not allowed (Traefik refuses them; use the punycode form)", a)
		}
		re, err := compile(name, a, argPos[0])
		if err != nil {
			return nil, err
		}
		n.re, n.reEmpty = re, re.MatchString("")
	case kPath, kPathPrefix:
		if !strings.HasPrefix(a, "/") {
			return nil, errAt(argPos[0], "%s(%q): a path starts with /", name, a)
		}
		if isTemplate(a) {
			return nil, errAt(argPos[0], "%s(%q): a Traefik v2 path template ({name:regexp}); v3 reads it as literal text, so it would never match: use PathRegexp with a plain regexp", name, a)
		}
		n.s = a
	case kPathRegexp:
		re, err := compile(name, a, argPos[0])
		if err != nil {
			return nil, err
		}
		n.re = re
	case kMethod:
		n.s = strings.ToUpper(a)
		n.args = []string{n.s}
	case kHeader, kHeaderRegexp:
		if !isToken(a) {
			return nil, errAt(argPos[0], "%s(%q, ...): a header name is a token (RFC 9110 §5.1); this one can never be in a request", name, a)
		}
		key := http.CanonicalHeaderKey(a)
		if why := rewrittenHeader(key); why != "" {
			return nil, errAt(argPos[0], "%s on %s: %s", name, key, why)
		}
		n.s = key
		n.args = []string{key, args[1]}
		if k == kHeader {
			n.v = args[1]
		} else {
			re, err := compile(name, args[1], argPos[1])
			if err != nil {
				return nil, err
			}
			n.re = re
		}
	case kQuery, kQueryRegexp:
		n.s = a
		if len(args) == 1 {
			if strings.Contains(a, "=") {
				return nil, errAt(argPos[0], "%s(%q): Traefik v2's key=value form; in v3 it names a parameter called %q: write Query(`key`, `value`)", name, a, a)
			}
			// Query(`key`), and QueryRegexp with one value, which Traefik
			// reads as Query: the parameter is present with an empty value.
			n.kind = kQuery
			break
		}
		if k == kQuery {
			n.v = args[1]
		} else {
			re, err := compile(name, args[1], argPos[1])
			if err != nil {
				return nil, err
			}
			n.re = re
		}
	case kClientIP:
		pfx, err := parseClientIP(a)
		if err != "" {
			return nil, errAt(argPos[0], "ClientIP(%q): %s", a, err)
		}
		n.prefix = pfx
		if pfx.IsSingleIP() {
			n.args = []string{pfx.Addr().String()}
		} else {
			n.args = []string{pfx.String()}
		}
	}
	return n, nil
}

func compile(name, expr string, pos int) (*regexp.Regexp, *posError) {
	if isTemplate(expr) {
		return nil, errAt(pos, "%s(%q): a Traefik v2 template ({name:regexp}); v3 takes a plain Go regexp (e.g. HostRegexp(`^[a-z]+\\.example\\.com$`)), and would read this one as literal braces", name, expr)
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, errAt(pos, "%s(%q): %v", name, expr, err)
	}
	return re, nil
}

// isTemplate spots Traefik v2's {name} or {name:regexp} in a value: an
// unescaped { followed by an identifier and : or }. A regexp's repetition
// ({2}, {2,5}) starts with a digit.
func isTemplate(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '{' || i > 0 && s[i-1] == '\\' {
			continue
		}
		j := i + 1
		if j >= len(s) || !isLetter(s[j]) {
			continue
		}
		for j < len(s) && (isLetter(s[j]) || '0' <= s[j] && s[j] <= '9') {
			j++
		}
		if j < len(s) && (s[j] == ':' || s[j] == '}') {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// checkHost refuses a Host value Traefik refuses (non-ASCII) or that could
// never match a request's host: one with a port, white space or characters
// no host has, empty labels, or a wildcard other than a lone "*" or one
// leading "*." label (Traefik's wildcard replaces exactly the first label).
func checkHost(h string) string {
	if !isASCII(h) {
		return "non-ASCII characters are not allowed (Traefik refuses them; use the punycode form, xn--...)"
	}
	if h == "*" {
		return ""
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		if ip.Zone() != "" {
			return "an IPv6 zone is never part of a request's host"
		}
		return ""
	}
	name := strings.TrimPrefix(h, "*.")
	name = strings.TrimSuffix(name, ".")
	if strings.Contains(name, "*") {
		return "a wildcard is a lone \"*\" or one leading \"*.\" label (it stands for exactly one label)"
	}
	if strings.HasPrefix(h, "[") || strings.Contains(h, ":") {
		return "a host is matched without its port (and an IPv6 address without brackets)"
	}
	if name == "" {
		return "no host name"
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" {
			return "empty label"
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return fmt.Sprintf("character %q never appears in a host name", c)
			}
		}
	}
	return ""
}

func parseClientIP(s string) (netip.Prefix, string) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, "not an address or CIDR range"
		}
		return p.Masked(), ""
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, "not an address or CIDR range"
	}
	if ip.Zone() != "" {
		return netip.Prefix{}, "an address with a zone is not accepted (Traefik refuses it)"
	}
	// Traefik compares addresses with net.IP.Equal, for which an
	// IPv4-mapped IPv6 address is the IPv4 address.
	ip = ip.Unmap()
	return netip.PrefixFrom(ip, ip.BitLen()), ""
}

// isToken: RFC 9110 §5.6.2 tchar+.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		switch c {
		case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
			continue
		}
		return false
	}
	return s != ""
}

// managedHeaders are the headers Traefik's entry point rewrites before its
// router reads them (pkg/middlewares/forwardedheaders: a client's values are
// deleted unless the peer is trusted, then Traefik's own are set). baton
// routes first and rewrites its forwarded headers after, so a rule on them
// would see the client's word where Traefik sees its own: refused.
var managedHeaders = map[string]bool{
	"X-Forwarded-Proto": true, "X-Forwarded-Scheme": true, "X-Forwarded-For": true,
	"X-Forwarded-Host": true, "X-Forwarded-Port": true, "X-Forwarded-Server": true,
	"X-Forwarded-Uri": true, "X-Forwarded-Method": true, "X-Forwarded-Prefix": true,
	"X-Forwarded-Tls-Client-Cert": true, "X-Forwarded-Tls-Client-Cert-Info": true,
	"X-Scheme": true, "X-Real-Ip": true,
}

func rewrittenHeader(key string) string {
	if managedHeaders[key] || managedHeaders[http.CanonicalHeaderKey(strings.ReplaceAll(key, "_", "-"))] {
		return "Traefik rewrites this header before routing (its forwarded-headers step) and baton after, so the rule would read the client's value where Traefik reads its own; not accepted"
	}
	if key == "Connection" {
		return "Traefik removes the Connection header before routing; not accepted"
	}
	return ""
}
