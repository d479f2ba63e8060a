// Package autotls gives baton's front door its certificates. certmagic obtains
// and renews one for every host the route table claims, from an ACME CA (Let's
// Encrypt, its staging, or any directory URL) or from baton's own internal CA,
// and baton's own listeners answer the challenges: HTTP-01 on the HTTP port,
// TLS-ALPN-01 on the HTTPS port. Hosts follow the containers: a host that
// appears is managed at once (issued in the background), a host no route claims
// any more stops being renewed. Nothing is issued on demand for names no route
// claims, so a stranger's SNI cannot make baton spend a CA's rate limit.
package autotls
