// Package dashboard is baton's web page of verified truth: one hand-written
// HTML file embedded in the binary, reading the same admin API (/v1/...) as
// the CLI, so the page and `baton status` never disagree. It guards the page
// and forwards GETs to the API in process; POSTs (deploy, rollback, cache
// purge) only when actions are on, with a CSRF token bound to the session
// cookie and a same-origin Origin.
//
// The entry point is New, an http.Handler built from Options (server.go);
// sessions and their CSRF tokens are in session.go. No loop of its own: it
// runs on the admin server's requests.
package dashboard
