package harness

import (
	"fmt"
	"sort"
	"time"
)

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

// Window is the load report of one slice of time.
type Window struct {
	From, To time.Duration // since the load started
	Report
}

// Windows cuts the load into consecutive slices of width and reports each,
// so a test sees when errors or slow answers happened (during a switch, say).
func (l *Load) Windows(width time.Duration) []Window {
	l.mu.Lock()
	var end time.Duration
	for _, r := range l.results {
		end = max(end, r.At)
	}
	l.mu.Unlock()
	var out []Window
	for from := time.Duration(0); from <= end; from += width {
		out = append(out, Window{From: from, To: from + width, Report: l.Report(from, from+width)})
	}
	return out
}
