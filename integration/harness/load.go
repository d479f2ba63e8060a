package harness

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"sync"
	"time"
)

// Load sends steady GETs through baton with a Host header from a few workers
// over keep-alive connections, and records every outcome. It is bounded in
// time and stops by itself.
type Load struct {
	URL     string
	Host    string
	Workers int
	Max     time.Duration // hard bound; default 2 minutes
	// MaxRequests, if set, stops the load after this many requests.
	MaxRequests int
	// Pace is the pause between one worker's requests (default 5ms).
	Pace time.Duration
	// Rate, when set, makes the load open-loop instead: Rate requests a
	// second, each sent at its time on its own goroutine whatever became of
	// the earlier ones (workers that wait for answers slow down with a
	// stalled server and hide the stall). Workers and Pace are then unused.
	Rate int
	// TLSRoots and ServerName are for an https URL: the roots to trust and
	// the SNI (the URL's host is the listener's address).
	TLSRoots   *x509.CertPool
	ServerName string
	// RoundTripper, if set, sends the requests instead of an HTTP/1.1 and
	// HTTP/2 transport: an HTTP/3 one, say. Stop closes its idle
	// connections if it can.
	RoundTripper http.RoundTripper

	transport *http.Transport
	stop      chan struct{}
	stopOnce  sync.Once
	wg        sync.WaitGroup
	mu        sync.Mutex
	results   []Result
	start     time.Time
}

// Result is one request's outcome.
type Result struct {
	At      time.Duration // since the load started
	Status  int           // 0 on a connection error
	Err     string
	Latency time.Duration
	Release string // X-Release of the answer
}

// Start begins the load.
func (l *Load) Start() *Load {
	if l.Workers == 0 {
		l.Workers = 4
	}
	if l.Max == 0 {
		l.Max = 2 * time.Minute
	}
	if l.Pace == 0 {
		l.Pace = 5 * time.Millisecond
	}
	l.stop = make(chan struct{})
	l.start = time.Now()
	l.transport = &http.Transport{MaxIdleConnsPerHost: l.Workers}
	if l.TLSRoots != nil {
		l.transport.TLSClientConfig = &tls.Config{RootCAs: l.TLSRoots, ServerName: l.ServerName}
		l.transport.ForceAttemptHTTP2 = true
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: l.transport}
	if l.RoundTripper != nil {
		client.Transport = l.RoundTripper
	}
	time.AfterFunc(l.Max, l.halt) // after Stop, halt is a no-op
	if l.Rate > 0 {
		l.transport.MaxIdleConnsPerHost = 64
		l.wg.Add(1)
		go l.openLoop(client)
		return l
	}
	for i := 0; i < l.Workers; i++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				l.one(client)
				time.Sleep(l.Pace)
			}
		}()
	}
	return l
}

func (l *Load) one(client *http.Client) {
	req, _ := http.NewRequest(http.MethodGet, l.URL, nil)
	req.Host = l.Host
	t0 := time.Now()
	resp, err := client.Do(req)
	r := Result{At: t0.Sub(l.start)}
	if err != nil {
		r.Err = err.Error()
	} else {
		_, cerr := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		r.Status = resp.StatusCode
		r.Release = resp.Header.Get("X-Release")
		if cerr != nil {
			r.Err = "body: " + cerr.Error()
		}
	}
	r.Latency = time.Since(t0)
	l.mu.Lock()
	l.results = append(l.results, r)
	full := l.MaxRequests > 0 && len(l.results) >= l.MaxRequests
	l.mu.Unlock()
	if full {
		l.halt()
	}
}

// openLoop sends Rate requests a second on schedule until stopped.
func (l *Load) openLoop(client *http.Client) {
	defer l.wg.Done()
	interval := time.Second / time.Duration(l.Rate)
	next := time.Now()
	for {
		next = next.Add(interval)
		select {
		case <-l.stop:
			return
		case <-time.After(time.Until(next)):
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.one(client)
		}()
	}
}

func (l *Load) halt() { l.stopOnce.Do(func() { close(l.stop) }) }

// Done is closed when the load stopped, by Stop or by one of its bounds.
func (l *Load) Done() <-chan struct{} { return l.stop }

// Stop ends the load and waits for the workers.
func (l *Load) Stop() Report {
	l.halt()
	l.wg.Wait()
	l.transport.CloseIdleConnections()
	if c, ok := l.RoundTripper.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
	return l.Report(0, time.Duration(1<<62))
}
