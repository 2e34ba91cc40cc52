//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package siem

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// peerClosed reports whether the receiver has closed or reset a stream
// connection, without blocking. A syslog receiver never speaks on it, so
// a pending end of stream is the news; data (a TLS session ticket or
// alert) is read away to see what lies behind it. Writing to a closed
// connection succeeds once and loses the record: this check is why the
// record after a receiver restart arrives.
func peerClosed(c net.Conn) bool {
	raw := c
	if tc, ok := c.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	sc, ok := raw.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	var n int
	var perr error
	var b [1]byte
	if err := rc.Read(func(fd uintptr) bool {
		n, _, perr = unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		return true
	}); err != nil {
		return true
	}
	switch {
	case errors.Is(perr, unix.EAGAIN) || errors.Is(perr, unix.EWOULDBLOCK) || errors.Is(perr, unix.EINTR):
		return false
	case perr != nil:
		return true
	case n == 0:
		return true
	}
	return !drain(c)
}

// drain reads what the receiver sent, for a moment; false when the
// connection turns out to be closed or broken.
func drain(c net.Conn) bool {
	var buf [512]byte
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		return false
	}
	defer func() { _ = c.SetReadDeadline(time.Time{}) }()
	for range 8 {
		if _, err := c.Read(buf[:]); err != nil {
			return errors.Is(err, os.ErrDeadlineExceeded)
		}
	}
	return true
}
