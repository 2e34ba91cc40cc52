// Package libpcap is a minimal, cgo-free binding to the system libpcap.
//
// The library is loaded at run time with purego (dlopen), so the exporter
// builds with CGO_ENABLED=0 on a machine without libpcap headers and only needs
// libpcap (libpcap.so.1 / libpcap.so.0.8) when a tcpdump-syntax filter has to
// be compiled or when packets are captured through libpcap. When the library
// is missing, [Load] (and every function that needs it) returns [ErrNotFound],
// whose message tells the operator what to install.
//
// Two things are provided:
//
//   - [CompileBPF] compiles a filter expression for a given link type into
//     classic BPF, to be attached to an AF_PACKET socket by the caller;
//   - [Handle], a live libpcap capture (pcap_create/pcap_activate,
//     pcap_next_ex, pcap_stats).
//
// It sits below collector/capture, at the start of the flow (capture ->
// decode -> features -> detector): the AF_PACKET source attaches the
// filters [CompileBPF] compiles, and the libpcap capture method reads through
// a [Handle].
//
// Only 64-bit Linux is supported (struct layouts are those of LP64 Linux);
// on other platforms every entry point returns an "unsupported platform"
// error.
package libpcap
