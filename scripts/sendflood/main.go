//go:build linux

// Command sendflood sends raw Ethernet frames out of one interface with
// sendmmsg on an AF_PACKET socket, at a fixed rate or as fast as it can, for
// scripts/bench-live.sh: tcpreplay writes one packet per system call and
// stops near 330 k packets/s on a small machine.
//
//	sendflood -i a0 -dst-mac 02:00:00:00:00:02 -n 1000000 -pps 500000
//
// The frames are a mix of conversations built once before sending (see
// mixConfig.build) and sent round-robin. A destination MAC other than the
// receiver's, as on a mirror port, keeps the receiving kernel's IP layer out
// of the measurement. The last line on stdout is "sent=N seconds=S pps=R
// cpu=C": N the frames the kernel accepted, C the CPU seconds the sending
// took (the receiver's softirq work on a veth included).
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr; Go pads it to the C size (64 bytes on 64-bit).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

func main() {
	ifname := flag.String("i", "", "interface to send on (required)")
	dst := flag.String("dst-mac", "", "destination MAC of every frame (default: broadcast)")
	n := flag.Int("n", 1_000_000, "frames to send")
	pps := flag.Float64("pps", 0, "frames per second; 0 = as fast as possible")
	timeout := flag.Duration("timeout", time.Minute, "stop sending after this long, even if fewer frames were sent")
	batch := flag.Int("batch", 64, "frames per sendmmsg call (at most; fewer at low rates)")
	var mix mixConfig
	flag.IntVar(&mix.frames, "pool", 1<<18, "frames built before sending, sent round-robin")
	flag.IntVar(&mix.clients, "clients", 4096, "client addresses (10.1.0.0/16)")
	flag.IntVar(&mix.servers, "servers", 64, "server addresses (10.2.0.0/24)")
	flag.IntVar(&mix.active, "active", 256, "conversations interleaved at a time")
	flag.Uint64Var(&mix.seed, "seed", 1, "random seed of the mix")
	flag.Parse()
	if err := run(*ifname, *dst, *n, *pps, *timeout, *batch, mix); err != nil {
		fmt.Fprintln(os.Stderr, "sendflood:", err)
		os.Exit(1)
	}
}

func run(ifname, dstMAC string, n int, pps float64, timeout time.Duration, batch int, mix mixConfig) error {
	switch {
	case ifname == "":
		return errors.New("-i is required")
	case n < 0 || pps < 0 || batch < 1 || batch > 1024:
		return errors.New("-n and -pps must be >= 0, -batch in 1..1024")
	}
	if err := mix.check(); err != nil {
		return err
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return err
	}
	dst := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if dstMAC != "" {
		if dst, err = net.ParseMAC(dstMAC); err != nil {
			return fmt.Errorf("-dst-mac: %w", err)
		}
	}
	src := ifi.HardwareAddr
	if len(src) != 6 {
		src = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	}

	// Protocol 0: a send-only socket, so the kernel queues nothing for us.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open AF_PACKET socket (needs CAP_NET_RAW): %w", err)
	}
	defer func() { _ = unix.Close(fd) }()
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
		return fmt.Errorf("bind %s: %w", ifname, err)
	}
	// Straight to the driver: a qdisc adds a lock per frame and nothing a
	// benchmark needs. Older kernels lack it; sending works without.
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)

	mix.dst, mix.src = dst, src
	frames := mix.build()
	iovs := make([]unix.Iovec, batch)
	msgs := make([]mmsghdr, batch)
	for i := range msgs {
		msgs[i].hdr.Iov = &iovs[i]
		msgs[i].hdr.SetIovlen(1)
	}
	// Bursts of at most 1 ms of traffic, so a paced rate stays smooth.
	if pps > 0 {
		batch = max(1, min(batch, int(pps/1000)))
	}

	// CPU of the sending only, not of building the frames.
	var ru0 unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru0)
	cpu0 := time.Duration(ru0.Utime.Nano() + ru0.Stime.Nano())
	start := time.Now()
	deadline := start.Add(timeout)
	sent, next, retries := 0, 0, 0
	for sent < n {
		now := time.Now()
		if now.After(deadline) {
			break
		}
		if pps > 0 {
			due := start.Add(time.Duration(float64(sent) / pps * 1e9))
			if d := due.Sub(now); d > 0 {
				time.Sleep(d)
			}
		}
		k := min(batch, n-sent)
		for i := range k {
			f := frames[(next+i)%len(frames)]
			iovs[i].Base = &f[0]
			iovs[i].SetLen(len(f))
		}
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(k), 0, 0, 0)
		if errno != 0 {
			if errno == unix.EINTR || errno == unix.EAGAIN || errno == unix.ENOBUFS {
				retries++
				time.Sleep(50 * time.Microsecond)
				continue
			}
			return fmt.Errorf("sendmmsg: %w", errno)
		}
		sent += int(r)
		next += int(r)
	}
	secs := time.Since(start).Seconds()
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) - cpu0
	if retries > 0 {
		fmt.Fprintf(os.Stderr, "sendflood: %d retries after a full queue\n", retries)
	}
	if sent < n {
		fmt.Fprintf(os.Stderr, "sendflood: stopped after %v with %d of %d frames sent\n", timeout, sent, n)
	}
	fmt.Printf("sent=%d seconds=%.3f pps=%.0f cpu=%.3f\n", sent, secs, float64(sent)/secs, cpu.Seconds())
	return nil
}
