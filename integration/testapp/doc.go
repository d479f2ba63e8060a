// Command testapp is the stand-in web app of baton's integration tests. It is
// an honest app: it handles SIGTERM gracefully (stops accepting, finishes
// in-flight requests with http.Server.Shutdown, lets a worker finish its job,
// then exits 0) unless told not to.
//
// Environment:
//
//	RELEASE              release SHA: GET /version answers {"sha": RELEASE}; every response carries X-Release
//	PORT                 listen port (default 8080)
//	READY_DELAY          /healthz answers 503 until this long after start (default 0)
//	READY_FLAP           once ready, alternate ready/unready with this period
//	CRASH_ON_START       exit 1 at once
//	CRASH_AFTER_STARTS   with STARTS_FILE: every start appends a line there; once
//	                     more than N starts are counted, exit 1 at start (a release
//	                     that works on its first replica and crashes on the next)
//	EXIT_AFTER           exit 2 after this long
//	IGNORE_SIGTERM       do nothing on SIGTERM or SIGINT (the orchestrator must SIGKILL)
//	VERSION_CACHE_MAXAGE /version sends Cache-Control: public, max-age=N
//	VERSION_STATUS       /version answers with this status (e.g. 502)
//	VERSION_DELAY        /version answers after this long (a slow verify probe)
//	VERSION_APP_CACHE    /version answers this release from a cache inside the app
//	                     (Cache-Status: app; hit), as a page cache that outlived a deploy
//	TLS_PORT, H2C_PORT   the same app on more ports, over TLS or h2c (see listeners.go)
//	SSE_INTERVAL         period of /sse ticks (default 100ms)
//	ECHO=1               any other path answers 200 with the request it got (see echo.go)
//	AUTH_SESSION         GET /auth is an Authelia-like forward-auth endpoint (see echo.go)
//	WORKER=1             run jobs of JOB_DURATION (default 1s) back to back; POST /drain
//	                     stops taking new ones; GET /drained is 200 once none runs (202
//	                     before); GET /jobs answers {"started":n,"finished":n};
//	                     JOBS_FILE, if set, gets a line per job: "started|finished N RELEASE"
//
// Paths: / (200, the release), /healthz, /version, /slow?ms=N[&flush=1],
// /ws (WebSocket echo), /sse, /status/{code}, and the worker's paths above.
// Any other path is 404, as in a real app (unless ECHO=1).
//
// On SIGTERM the app does not itself close WebSockets or end SSE streams:
// baton must do that at its drain bound, and a test must be able to tell
// baton's close frame from the app's.
package main
