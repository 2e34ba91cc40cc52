package libpcap

import "errors"

// libNames are the shared objects tried, in order, by Load.
var libNames = []string{"libpcap.so.1", "libpcap.so.0.8", "libpcap.so"}

var (
	// ErrNotFound is returned by Load (and by every function that loads
	// libpcap implicitly) when no libpcap shared library can be opened.
	ErrNotFound = errors.New(`libpcap not found (tried libpcap.so.1, libpcap.so.0.8, libpcap.so): install it with "apt-get install libpcap0.8", or run without --capture.filter and with --capture.method=afpacket`)

	// ErrNoSuchDevice is wrapped by OpenLive when the interface does not
	// exist (PCAP_ERROR_NO_SUCH_DEVICE).
	ErrNoSuchDevice = errors.New("no such interface")

	// ErrPermission is wrapped by OpenLive when the process lacks the
	// privileges to capture (PCAP_ERROR_PERM_DENIED,
	// PCAP_ERROR_PROMISC_PERM_DENIED).
	ErrPermission = errors.New("permission denied")

	// ErrTimeout is returned by Handle.ReadPacket when the read timeout
	// expired before a packet arrived. It is not a failure: call again.
	ErrTimeout = errors.New("libpcap: read timeout expired")

	// ErrClosed is returned by Handle methods called after Close.
	ErrClosed = errors.New("libpcap: handle is closed")
)
