//go:build !unix

package proxy

import "syscall"

// rawSocket: elsewhere the relay reads through net.Conn, a buffer held.
func rawSocket(syscall.Conn) syscall.RawConn { return nil }

func (s *relaySource) readRaw() (*[]byte, int, error) {
	bp := getRelayBuffer()
	n, err := s.r.Read(*bp)
	return bp, n, err
}

func (s *relaySource) waitReadable() error { return nil }
