package decode

import (
	"encoding/binary"
	"errors"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// gopacket decodes MPLS and PPPoE only through its allocating packet API.
// These two small DecodingLayers let the parser walk through them to the IP
// header, as tshark does.

// maxMPLSLabels bounds the label stack walk on hostile input.
const maxMPLSLabels = 16

// mplsLayer skips an MPLS label stack and guesses the payload from the IP
// version nibble, as routers and tshark do.
type mplsLayer struct {
	layers.BaseLayer
	next gopacket.LayerType
}

func (m *mplsLayer) CanDecode() gopacket.LayerClass { return layers.LayerTypeMPLS }

func (m *mplsLayer) NextLayerType() gopacket.LayerType { return m.next }

func (m *mplsLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	off := 0
	for i := 0; ; i++ {
		if i == maxMPLSLabels {
			return errors.New("mpls label stack too deep")
		}
		if len(data) < off+4 {
			df.SetTruncated()
			return errors.New("mpls label truncated")
		}
		bottom := data[off+2]&0x01 != 0
		off += 4
		if bottom {
			break
		}
	}
	m.BaseLayer = layers.BaseLayer{Contents: data[:off], Payload: data[off:]}
	m.next = gopacket.LayerTypeZero
	if len(m.Payload) > 0 {
		switch m.Payload[0] >> 4 {
		case 4:
			m.next = layers.LayerTypeIPv4
		case 6:
			m.next = layers.LayerTypeIPv6
		}
	}
	return nil
}

// pppoeSessionLayer decodes a PPPoE session header and the PPP protocol
// field behind it.
type pppoeSessionLayer struct {
	layers.BaseLayer
	next gopacket.LayerType
}

func (p *pppoeSessionLayer) CanDecode() gopacket.LayerClass { return layers.LayerTypePPPoE }

func (p *pppoeSessionLayer) NextLayerType() gopacket.LayerType { return p.next }

func (p *pppoeSessionLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 8 {
		df.SetTruncated()
		return errors.New("pppoe header truncated")
	}
	p.BaseLayer = layers.BaseLayer{Contents: data[:8], Payload: data[8:]}
	p.next = gopacket.LayerTypeZero
	if data[1] != 0 { // a discovery code inside a session frame
		return nil
	}
	switch binary.BigEndian.Uint16(data[6:8]) {
	case 0x0021:
		p.next = layers.LayerTypeIPv4
	case 0x0057:
		p.next = layers.LayerTypeIPv6
	}
	return nil
}
