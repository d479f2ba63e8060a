package harness

import (
	"fmt"
	"io"
	"net/http"
	"sort"
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
	// Pace is the pause between one worker's requests (default 5ms).
	Pace time.Duration

	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	results []Result
	start   time.Time
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
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: l.Workers}}
	deadline := time.After(l.Max)
	var once sync.Once
	go func() {
		select {
		case <-deadline:
			once.Do(func() { close(l.stop) })
		case <-l.stop:
		}
	}()
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
	l.mu.Unlock()
}

// Stop ends the load and waits for the workers.
func (l *Load) Stop() Report {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
	return l.Report(0, time.Duration(1<<62))
}

// Report summarises results whose start falls in [from, to).
func (l *Load) Report(from, to time.Duration) Report {
	l.mu.Lock()
	defer l.mu.Unlock()
	var rep Report
	var lat []time.Duration
	rep.Releases = map[string]int{}
	for _, r := range l.results {
		if r.At < from || r.At >= to {
			continue
		}
		rep.Requests++
		switch {
		case r.Err != "":
			rep.ConnErrors++
			if len(rep.Samples) < 5 {
				rep.Samples = append(rep.Samples, r.Err)
			}
		case r.Status/100 != 2:
			rep.Non2xx++
			if len(rep.Samples) < 5 {
				rep.Samples = append(rep.Samples, fmt.Sprintf("status %d at %s", r.Status, r.At))
			}
		}
		rep.Releases[r.Release]++
		lat = append(lat, r.Latency)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	rep.P50, rep.P99, rep.Max = pct(lat, 0.50), pct(lat, 0.99), pct(lat, 1)
	return rep
}

// Since is how long the load has run.
func (l *Load) Since() time.Duration { return time.Since(l.start) }

// Report is a load summary.
type Report struct {
	Requests, Non2xx, ConnErrors int
	P50, P99, Max                time.Duration
	Releases                     map[string]int
	Samples                      []string
}

func (r Report) String() string {
	return fmt.Sprintf("%d requests, %d non-2xx, %d connection errors, p50 %s, p99 %s, max %s, releases %v %v",
		r.Requests, r.Non2xx, r.ConnErrors, r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond), r.Releases, r.Samples)
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

// Latencies returns the latencies of the requests that started in [from, to).
func (l *Load) Latencies(from, to time.Duration) []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Duration
	for _, r := range l.results {
		if r.At >= from && r.At < to {
			out = append(out, r.Latency)
		}
	}
	return out
}

// P99 of a set of latencies.
func P99(lat []time.Duration) time.Duration {
	s := append([]time.Duration(nil), lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return pct(s, 0.99)
}
