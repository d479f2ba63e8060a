package handover

import (
	"errors"
	"net"
	"testing"
)

func TestParseEnv(t *testing.T) {
	const pid = 4242
	tests := []struct {
		name    string
		env     map[string]string
		count   int
		names   []string
		wantErr bool
	}{
		{name: "nothing inherited", env: map[string]string{}},
		{name: "systemd, for us", env: map[string]string{EnvFDs: "2", EnvPID: "4242", EnvNames: "http:https"}, count: 2, names: []string{"http", "https"}},
		{name: "systemd, unnamed", env: map[string]string{EnvFDs: "1", EnvPID: "4242"}, count: 1, names: []string{"unknown"}},
		{name: "systemd, for another process (leaked)", env: map[string]string{EnvFDs: "2", EnvPID: "1"}},
		{name: "no LISTEN_PID and not an upgrade: fds 3.. could be anything", env: map[string]string{EnvFDs: "2", EnvNames: "http:https"}},
		{name: "an upgrade's child has no LISTEN_PID", env: map[string]string{EnvFDs: "1", EnvNames: "http", EnvReadyFD: "4"}, count: 1, names: []string{"http"}},
		{name: "empty name becomes unknown", env: map[string]string{EnvFDs: "2", EnvPID: "4242", EnvNames: "http:"}, count: 2, names: []string{"http", "unknown"}},
		{name: "names do not match the count", env: map[string]string{EnvFDs: "2", EnvPID: "4242", EnvNames: "http"}, wantErr: true},
		{name: "count not a number", env: map[string]string{EnvFDs: "two", EnvPID: "4242"}, wantErr: true},
		{name: "negative count", env: map[string]string{EnvFDs: "-1", EnvPID: "4242"}, wantErr: true},
		{name: "pid not a number", env: map[string]string{EnvFDs: "1", EnvPID: "me"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := parseEnv(func(k string) string { return tt.env[k] }, pid)
			if tt.wantErr {
				if !errors.Is(err, ErrBadEnv) {
					t.Fatalf("err = %v, want ErrBadEnv", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if spec.count != tt.count || len(spec.names) != len(tt.names) {
				t.Fatalf("got %d sockets %q, want %d %q", spec.count, spec.names, tt.count, tt.names)
			}
			for i := range tt.names {
				if spec.names[i] != tt.names[i] {
					t.Fatalf("names %q, want %q", spec.names, tt.names)
				}
			}
		})
	}
}

func TestMatches(t *testing.T) {
	tcp := func(ip string, port int) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: port} }
	unix := &net.UnixAddr{Name: "/run/baton/baton.sock", Net: "unix"}
	tests := []struct {
		name   string
		inName string
		inAddr net.Addr
		want   string // listener name
		addr   string
		match  bool
	}{
		{"by name", "http", tcp("127.0.0.1", 9000), NameHTTP, "127.0.0.1:8080", true},
		{"a baton name is that listener only", "https", tcp("0.0.0.0", 80), NameHTTP, ":80", false},
		{"systemd's [::]:80 is listen.http :80", "baton.socket", tcp("::", 80), NameHTTP, ":80", true},
		{"0.0.0.0:443 is 0.0.0.0:443", "baton.socket", tcp("0.0.0.0", 443), NameHTTPS, "0.0.0.0:443", true},
		{"port by name", "baton.socket", tcp("::", 443), NameHTTPS, ":https", true},
		{"other port", "baton.socket", tcp("::", 8080), NameHTTP, ":80", false},
		{"a wildcard is not one address", "baton.socket", tcp("::", 80), NameHTTP, "127.0.0.1:80", false},
		{"one address is not a wildcard", "baton.socket", tcp("127.0.0.1", 80), NameHTTP, ":80", false},
		{"same loopback address", "unknown", tcp("127.0.0.1", 8080), NameHTTP, "127.0.0.1:8080", true},
		{"host name resolved", "unknown", tcp("127.0.0.1", 8080), NameHTTP, "localhost:8080", true},
		{"other address", "unknown", tcp("127.0.0.2", 8080), NameHTTP, "127.0.0.1:8080", false},
		{"unix socket by path", "baton-admin.socket", unix, NameAdmin, "/run/baton/baton.sock", true},
		{"unix: prefix", "baton-admin.socket", unix, NameAdmin, "unix:/run/baton/baton.sock", true},
		{"unix socket, other path", "baton-admin.socket", unix, NameAdmin, "/tmp/x.sock", false},
		{"unix socket is no TCP address", "unknown", unix, NameHTTP, ":80", false},
		{"listener not configured", "unknown", tcp("::", 443), NameHTTPS, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matches(tt.inName, tt.inAddr, tt.want, tt.addr); got != tt.match {
				t.Fatalf("matches(%q, %s, %q, %q) = %v, want %v", tt.inName, tt.inAddr, tt.want, tt.addr, got, tt.match)
			}
		})
	}
}

func TestUnmatchedNamesTheSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Set{list: []*Inherited{{FD: 3, Name: "http", ln: ln}, {FD: 4, Name: "baton.socket", ln: ln}}}
	if got := s.Take(NameHTTP, "127.0.0.1:1"); got != ln {
		t.Fatal("the socket named http was not taken for listen.http")
	}
	err = s.Unmatched()
	if !errors.Is(err, ErrUnmatched) {
		t.Fatalf("err = %v, want ErrUnmatched", err)
	}
	want := `inherited fd 4 (name "baton.socket", tcp ` + ln.Addr().String() + `)`
	if got := err.Error(); len(got) < len(want) || got[:len(want)] != want {
		t.Fatalf("error %q does not start with %q", got, want)
	}
	s.Close()
}
