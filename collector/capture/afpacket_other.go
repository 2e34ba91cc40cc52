//go:build !linux

package capture

import "fmt"

func openAFPacket(cfg LiveConfig) (Source, error) {
	return nil, fmt.Errorf("capture method afpacket is only available on Linux: use --capture.method=pcap")
}
