package handover

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// The environment of sd_listen_fds(3).
const (
	EnvFDs   = "LISTEN_FDS"
	EnvPID   = "LISTEN_PID"
	EnvNames = "LISTEN_FDNAMES"

	// firstFD is SD_LISTEN_FDS_START: the first inherited socket.
	firstFD = 3
)

// The names baton gives its sockets when it hands them over. A socket named
// otherwise (systemd names every socket of a unit after the unit unless
// FileDescriptorName= says so) is matched by its address.
const (
	NameHTTP    = "http"
	NameHTTPS   = "https"
	NameAdmin   = "admin"
	NameMetrics = "metrics"
	NameUI      = "ui" // the dashboard (admin.ui)
	// NameHTTP3 is HTTP/3's UDP socket, at the HTTPS port.
	NameHTTP3 = "http3"
)

var reserved = map[string]bool{NameHTTP: true, NameHTTPS: true, NameAdmin: true, NameMetrics: true, NameUI: true, NameHTTP3: true}

// ErrUnmatched is returned for an inherited socket that no configured
// listener claims: serving it, or silently closing a port the service manager
// opened for baton, would both be a guess.
var ErrUnmatched = errors.New("inherited socket matches no configured listener")

// ErrBadEnv is an unreadable LISTEN_* variable.
var ErrBadEnv = errors.New("bad socket activation environment")

// Inherited is one listening socket another process handed over.
type Inherited struct {
	FD   int
	Name string
	ln   net.Listener   // a stream socket's
	pc   net.PacketConn // a datagram socket's (HTTP/3)
}

// Addr is the socket's bound address.
func (i *Inherited) Addr() net.Addr {
	if i.pc != nil {
		return i.pc.LocalAddr()
	}
	return i.ln.Addr()
}

func (i *Inherited) close() {
	if i.pc != nil {
		i.pc.Close()
		return
	}
	i.ln.Close()
}

// Set is the inherited sockets not yet claimed by a listener.
type Set struct {
	list []*Inherited
}

// Len is the number of sockets not claimed yet.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.list)
}

// envSpec is what the environment says was inherited.
type envSpec struct {
	count int
	names []string
}

// parseEnv decides from the environment which fds are ours. LISTEN_PID, when
// set, must be this process (sd_listen_fds(3): the variables may have leaked
// from a parent). baton's own upgrade cannot know its child's pid before exec,
// so it leaves LISTEN_PID out and marks the child with EnvReadyFD instead;
// without either, LISTEN_FDS is ignored: fds 3.. could be anything.
func parseEnv(getenv func(string) string, pid int) (envSpec, error) {
	fds := getenv(EnvFDs)
	if fds == "" {
		return envSpec{}, nil
	}
	switch p := getenv(EnvPID); {
	case p != "":
		want, err := strconv.Atoi(p)
		if err != nil {
			return envSpec{}, fmt.Errorf("%w: %s=%q is not a pid", ErrBadEnv, EnvPID, p)
		}
		if want != pid {
			return envSpec{}, nil // meant for another process
		}
	case getenv(EnvReadyFD) == "":
		return envSpec{}, nil
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 0 {
		return envSpec{}, fmt.Errorf("%w: %s=%q is not a count", ErrBadEnv, EnvFDs, fds)
	}
	spec := envSpec{count: n, names: make([]string, n)}
	if names := getenv(EnvNames); names != "" {
		parts := strings.Split(names, ":")
		if len(parts) != n {
			return envSpec{}, fmt.Errorf("%w: %s names %d sockets, %s=%d", ErrBadEnv, EnvNames, len(parts), EnvFDs, n)
		}
		copy(spec.names, parts)
	}
	for i := range spec.names {
		if spec.names[i] == "" {
			spec.names[i] = "unknown" // systemd's name for an unnamed fd
		}
	}
	return spec, nil
}

// FromEnv takes what the environment hands this process: the sockets
// (systemd's or an upgrading baton's), and the upgrade's protocol when a
// baton started this process (nil otherwise). It unsets the variables, so
// that a process baton starts does not take them for its own.
func FromEnv() (*Set, *Child, error) {
	spec, err := parseEnv(os.Getenv, os.Getpid())
	for _, k := range []string{EnvFDs, EnvPID, EnvNames} {
		os.Unsetenv(k)
	}
	if err != nil {
		return nil, nil, err
	}
	child, err := childFromEnv()
	if err != nil {
		return nil, nil, err
	}
	s := &Set{}
	for i := 0; i < spec.count; i++ {
		fd := firstFD + i
		in, err := socketOf(fd, spec.names[i])
		if err != nil {
			s.Close()
			child.Fail(err)
			return nil, nil, err
		}
		s.list = append(s.list, in)
	}
	return s, child, nil
}

// socketOf turns inherited fd into a listener, or a packet conn for a
// datagram socket; anything else is refused by name.
func socketOf(fd int, name string) (*Inherited, error) {
	datagram, err := checkSocket(fd)
	if err != nil {
		return nil, fmt.Errorf("inherited fd %d (%q): %w", fd, name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	if f == nil {
		return nil, fmt.Errorf("inherited fd %d (%q): not open", fd, name)
	}
	defer f.Close() // FileListener and FilePacketConn hold their own copy
	in := &Inherited{FD: fd, Name: name}
	if datagram {
		in.pc, err = net.FilePacketConn(f)
	} else {
		in.ln, err = net.FileListener(f)
	}
	if err != nil {
		return nil, fmt.Errorf("inherited fd %d (%q): %w", fd, name, err)
	}
	return in, nil
}

// Take returns the inherited socket for the listener called name (one of the
// Name constants) configured at addr, and removes it from the set: the socket
// of that name, else one bound to that address. It returns nil when none was
// inherited (the caller binds addr itself).
func (s *Set) Take(name, addr string) net.Listener {
	if s == nil {
		return nil
	}
	for i, in := range s.list {
		if in.ln != nil && matches(in.Name, in.Addr(), name, addr) {
			s.list = append(s.list[:i], s.list[i+1:]...)
			return in.ln
		}
	}
	return nil
}

// TakePacket is Take for a datagram socket: HTTP/3's UDP socket called name
// at addr (the HTTPS listener's address), or nil when none was inherited.
func (s *Set) TakePacket(name, addr string) net.PacketConn {
	if s == nil {
		return nil
	}
	for i, in := range s.list {
		if in.pc != nil && matches(in.Name, in.Addr(), name, addr) {
			s.list = append(s.list[:i], s.list[i+1:]...)
			return in.pc
		}
	}
	return nil
}

// Unmatched is nil when every inherited socket was taken, else an ErrUnmatched
// naming each of the others (fd, name, address) and the listeners there are.
func (s *Set) Unmatched() error {
	if s.Len() == 0 {
		return nil
	}
	var errs []error
	for _, in := range s.list {
		errs = append(errs, fmt.Errorf("inherited fd %d (name %q, %s %s): %w: listen.http, listen.https (and its UDP port for HTTP/3), admin.socket and admin.metrics name other addresses",
			in.FD, in.Name, in.Addr().Network(), in.Addr(), ErrUnmatched))
	}
	return errors.Join(errs...)
}

// Close closes the sockets not taken.
func (s *Set) Close() {
	if s == nil {
		return
	}
	for _, in := range s.list {
		in.close()
	}
	s.list = nil
}

// matches decides whether an inherited socket (its name and bound address) is
// the listener called name configured at addr. A socket carrying one of
// baton's names is that listener or none; any other name is matched by
// address: a unix socket by path, TCP by port and by IP, where a wildcard
// ("", 0.0.0.0, ::) matches a wildcard of either family (systemd's
// ListenStream=80 binds [::]:80, which serves IPv4 too).
func matches(inName string, inAddr net.Addr, name, addr string) bool {
	if reserved[inName] {
		return inName == name
	}
	if addr == "" {
		return false
	}
	switch a := inAddr.(type) {
	case *net.UnixAddr:
		path := strings.TrimPrefix(addr, "unix:")
		return (strings.HasPrefix(path, "/") || strings.HasPrefix(path, ".")) && a.Name == path
	case *net.UDPAddr:
		return matches(inName, &net.TCPAddr{IP: a.IP, Port: a.Port, Zone: a.Zone}, name, addr)
	case *net.TCPAddr:
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return false
		}
		p, err := net.LookupPort("tcp", port)
		if err != nil || p != a.Port {
			return false
		}
		wantAny := host == "" || host == "0.0.0.0" || host == "::"
		if wantAny || a.IP == nil || a.IP.IsUnspecified() {
			return wantAny && (a.IP == nil || a.IP.IsUnspecified())
		}
		ip := net.ParseIP(host)
		if ip == nil {
			// A host name: the address it resolves to now.
			ta, err := net.ResolveTCPAddr("tcp", addr)
			if err != nil {
				return false
			}
			ip = ta.IP
		}
		return ip.Equal(a.IP)
	}
	return false
}
