// Package rule compiles Traefik v3 HTTP router rules into matchers.
//
// The language is Traefik v3's (its default "v3" rule syntax): the matchers
// Host, HostRegexp, Path, PathPrefix, PathRegexp, Method, Header,
// HeaderRegexp, Query, QueryRegexp and ClientIP, combined with !, && and ||
// (&& binding tighter, as in Go) and parentheses. Values are Go string
// literals in backticks or double quotes; regular expressions are Go's
// (RE2), compiled once by Parse. A rule matches a request exactly when
// Traefik's router would match it (as of v3.7: Host's "*" and "*.domain"
// forms came in v3.7, matching on the routing path rather than the decoded
// path in v3.4.1); see Match for the request properties each matcher reads.
//
// Parse refuses, with the rule quoted and the offset of the problem:
// everything Traefik refuses (unknown matchers, a wrong number of values, an
// empty value, a bad regexp, single quotes, non-ASCII hosts), and rules
// Traefik accepts but that cannot do what their author meant, among them:
// Traefik v2's {name:regexp} templates (v3 reads them as literal text or a
// plain regexp, so they silently never match), v2's Query(`k=v`) form, a
// host with a port, and Header matchers on the X-Forwarded-* headers and
// Connection, which Traefik rewrites before it routes and baton after.
//
// Two v2 forms are accepted although v3 refuses them: several hosts in one
// Host and several prefixes in one PathPrefix, read as alternatives, as v2
// did. V2Forms reports their use.
//
// The main types are Rule (Parse, Match: rule.go) and Index (the routing
// table's lookup by host and path, index.go). Pure: no state, no loop.
package rule
