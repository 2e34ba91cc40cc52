package capture

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/netanomaly/netanomaly_exporter/collector/capture/libpcap"
)

// Capture methods.
const (
	MethodAFPacket = "afpacket"
	MethodPcap     = "pcap"
)

// LiveConfig configures a live capture on one interface.
type LiveConfig struct {
	Interface   string
	Method      string // MethodAFPacket or MethodPcap
	Filter      string // BPF expression, compiled with libpcap and run in the kernel
	Snaplen     int
	Promiscuous bool
	BufferBytes int // kernel ring (AF_PACKET) or buffer (libpcap) size
	// Fanout, when not 0, joins the AF_PACKET socket to the fanout group
	// of that ID on the interface (PACKET_FANOUT_HASH with defragmentation):
	// the kernel spreads the interface's packets over the group's sockets
	// by flow, both directions of a flow to the same socket, each packet
	// to one. A socket counts only the packets it received after joining.
	Fanout uint16
}

// ErrNoSuchInterface is returned when the interface does not exist.
var ErrNoSuchInterface = errors.New("no such interface")

// FanoutGroup returns a fanout group ID for this process's capture of an
// interface. Groups are shared by every socket of a network namespace that
// joins with the same ID: the process ID keeps two exporters on one
// interface apart, the interface index two interfaces of one exporter.
func FanoutGroup(ifindex int) uint16 {
	id := uint16(os.Getpid()*0x9e37) ^ uint16(ifindex*0x61c9)
	return max(id, 1)
}

// ErrPermission is returned when the process may not capture.
var ErrPermission = errors.New("permission denied")

// OpenLive opens a live capture. Errors say what to do about them.
func OpenLive(cfg LiveConfig) (Source, error) {
	if cfg.Snaplen < 64 || cfg.Snaplen > 262144 {
		return nil, fmt.Errorf("snaplen %d out of range: use 64 to 262144 bytes (256 captures all headers)", cfg.Snaplen)
	}
	if cfg.Interface != "any" {
		if _, err := net.InterfaceByName(cfg.Interface); err != nil {
			return nil, fmt.Errorf("%w %q: list the interfaces with --capture.list-interfaces", ErrNoSuchInterface, cfg.Interface)
		}
	}
	switch cfg.Method {
	case MethodAFPacket:
		return openAFPacket(cfg)
	case MethodPcap:
		if cfg.Fanout != 0 {
			return nil, fmt.Errorf("capture on %q: several capture workers need --capture.method=afpacket (libpcap has no fanout): use --capture.workers=1 with pcap", cfg.Interface)
		}
		return openPcap(cfg)
	default:
		return nil, fmt.Errorf("unknown capture method %q: use afpacket or pcap", cfg.Method)
	}
}

// pcapSource captures with libpcap, loaded at run time.
type pcapSource struct {
	h    *libpcap.Handle
	link uint16
	// libpcap's counters are 32-bit and wrap: keep our own running totals.
	drop, ifdrop wrapCounter
	delivered    uint64 // packets libpcap handed us
}

func openPcap(cfg LiveConfig) (Source, error) {
	h, err := libpcap.OpenLive(cfg.Interface, cfg.Snaplen, cfg.Promiscuous, cfg.BufferBytes, PollInterval)
	if err != nil {
		return nil, liveErr(cfg.Interface, err)
	}
	if cfg.Filter != "" {
		if err := h.SetFilter(cfg.Filter); err != nil {
			h.Close()
			return nil, fmt.Errorf("capture filter on %q: %w", cfg.Interface, err)
		}
	}
	return &pcapSource{h: h, link: uint16(h.LinkType())}, nil
}

func (s *pcapSource) Next() (Packet, error) {
	data, ts, wire, err := s.h.ReadPacket()
	if err != nil {
		if errors.Is(err, libpcap.ErrTimeout) {
			return Packet{}, ErrTimeout
		}
		return Packet{}, err
	}
	s.delivered++
	return Packet{Data: data, TimeNanos: ts, WireLen: wire, LinkType: s.link}, nil
}

func (s *pcapSource) Clock() (int64, bool) { return time.Now().UnixNano(), true }

// Stats returns the packets libpcap handed us plus those the kernel
// dropped, the same meaning as AF_PACKET's. libpcap's own ps_recv is not
// used: on Linux it counts every packet the kernel queued, including the
// outgoing copies on loopback that libpcap discards (a ping flood on lo
// read 80,036 against 40,000 delivered).
func (s *pcapSource) Stats() Stats {
	_, drop, ifdrop, err := s.h.Stats()
	if err == nil {
		s.drop.update(drop)
		s.ifdrop.update(ifdrop)
	}
	return Stats{Received: s.delivered + s.drop.total, KernelDropped: s.drop.total, IfDropped: s.ifdrop.total}
}

func (s *pcapSource) Close() error { s.h.Close(); return nil }

// wrapCounter turns a 32-bit counter that wraps into a running total.
type wrapCounter struct {
	last  uint32
	total uint64
}

func (c *wrapCounter) update(v uint64) {
	cur := uint32(v)
	c.total += uint64(cur - c.last) // modular arithmetic absorbs one wrap
	c.last = cur
}

// liveErr maps capture errors to the sentinel errors with their remedy.
func liveErr(iface string, err error) error {
	switch {
	case errors.Is(err, libpcap.ErrNoSuchDevice):
		return fmt.Errorf("%w %q: list the interfaces with --capture.list-interfaces", ErrNoSuchInterface, iface)
	case errors.Is(err, libpcap.ErrPermission), errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%w capturing on %q: the exporter needs CAP_NET_RAW (and CAP_NET_ADMIN for --capture.promiscuous): run as root or `setcap cap_net_raw,cap_net_admin+eip` on the binary", ErrPermission, iface)
	}
	return fmt.Errorf("open capture on %q: %w", iface, err)
}

// Interface describes a capturable interface.
type Interface struct {
	Name     string
	Up       bool
	LinkType uint16
	Addrs    []string
}

// ListInterfaces lists the interfaces this host can capture on.
func ListInterfaces() ([]Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	out := make([]Interface, 0, len(ifs)+1)
	for _, i := range ifs {
		var addrs []string
		if as, err := i.Addrs(); err == nil {
			for _, a := range as {
				addrs = append(addrs, a.String())
			}
		}
		out = append(out, Interface{Name: i.Name, Up: i.Flags&net.FlagUp != 0, LinkType: interfaceLinkType(i.Name), Addrs: addrs})
	}
	out = append(out, Interface{Name: "any", Up: true, LinkType: linkRaw})
	return out, nil
}

// Link types (LINKTYPE_* numbers, as in pcap files) of the frames that
// live sources return. They are gopacket's values so that capture, which
// only labels frames, need not import the decoder that reads them.
const (
	linkEthernet = uint16(layers.LinkTypeEthernet) // 1
	linkRaw      = uint16(layers.LinkTypeRaw)      // 101: bare IPv4 or IPv6
)

// interfaceLinkType maps the kernel's ARPHRD type to the link type of the
// frames an AF_PACKET raw socket returns.
func interfaceLinkType(name string) uint16 {
	b, err := os.ReadFile("/sys/class/net/" + name + "/type")
	if err != nil {
		return linkEthernet
	}
	t, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	switch t {
	case 1, 772: // ARPHRD_ETHER; loopback frames carry an Ethernet header too
		return linkEthernet
	default: // tun, wireguard, sit, ipip: bare IP
		return linkRaw
	}
}
