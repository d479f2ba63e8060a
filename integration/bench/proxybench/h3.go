package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// h3Conns is how many QUIC connections the HTTP/3 load opens; the -c
// clients share them as concurrent streams (a browser opens one per origin).
const h3Conns = 4

// h3Target is the HTTP/3 row: the baton-https process, on its UDP socket at
// the same port. wrk has no HTTP/3, and nginx 1.22 from Debian has none
// either: this row has no peer. The client is quic-go's, in this process, on
// the same two cores as baton: its own cost bounds the figure, so read it as
// what baton serves to a Go client, and its proxy CPU per request as baton's.
func h3Target(https *target) *target {
	return &target{name: "baton-h3", port: https.port, cmd: https.cmd, proxy: true, h3: true}
}

// h3Load runs conns clients for d over h3Conns connections and returns
// requests/s, the request count, p50 and p99 in ms, and failures.
func h3Load(port int, d time.Duration, conns int) (rps, requests, p50, p99 float64, failed int) {
	trs := make([]*http3.Transport, h3Conns)
	for i := range trs {
		trs[i] = &http3.Transport{TLSClientConfig: &tls.Config{ServerName: benchTLSHost, InsecureSkipVerify: true}}
		defer trs[i].Close()
	}
	url := fmt.Sprintf("https://127.0.0.1:%d/", port)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < conns; c++ {
		client := &http.Client{Transport: trs[c%h3Conns], Timeout: 10 * time.Second}
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 1<<14)
			bad := 0
			for ctx.Err() == nil {
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				req.Host = benchTLSHost
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					if ctx.Err() == nil {
						bad++
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			failed += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	if len(lat) == 0 {
		return 0, 0, 0, 0, failed
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	return float64(len(lat)) / elapsed, float64(len(lat)), ms(0.50), ms(0.99), failed
}
