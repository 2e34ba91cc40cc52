package features

// MaxSenders is the most senders a window lists.
const MaxSenders = 4096

// senderProbes is how many slots a sender's hash may probe.
const senderProbes = 16

// senderSet is the set of addresses that sent IP packets in a window: who
// was there, for the detector to notice regular hosts falling silent. It
// is a fixed open-addressing table keyed by the address hash prepare
// computed, at most half full. Once it holds MaxSenders addresses the
// packets that follow are counted in dropped, not looked up: a spoofed
// flood costs the memory of a quiet link, and its window says that its
// list is incomplete.
type senderSet struct {
	hashes  []uint64 // 0: empty
	keys    []Sender
	used    []int32
	last    uint64 // hash of the last sender added: a run of packets from one host probes nothing
	dropped uint64
}

func newSenderSet() *senderSet {
	return &senderSet{hashes: make([]uint64, 2*MaxSenders), keys: make([]Sender, 2*MaxSenders), used: make([]int32, 0, MaxSenders)}
}

// Sender is an address that sent in a window, with the Ethernet source
// of its first packet there (zero on a link without one). On the
// captured segment the MAC is the machine's own, so a machine still
// heard from under another address is not down; beyond a router it is
// the router's.
type Sender struct {
	Addr [16]byte
	MAC  [6]byte
}

// add records that addr, whose HashAddr is h, sent a packet from mac.
func (s *senderSet) add(addr [16]byte, mac [6]byte, h uint64) {
	h = max(h, 1)
	if h == s.last {
		return
	}
	if len(s.used) >= MaxSenders {
		// Full: the list is incomplete whatever this sender is, and a
		// flood of forged sources costs a counter, not a probe.
		s.dropped++
		return
	}
	mask := uint64(len(s.hashes) - 1)
	for i, p := 0, h&mask; i < senderProbes; i, p = i+1, (p+1)&mask {
		switch s.hashes[p] {
		case h:
			s.last = h
			return
		case 0:
			s.hashes[p], s.keys[p] = h, Sender{addr, mac}
			s.used = append(s.used, int32(p))
			s.last = h
			return
		}
	}
	s.dropped++
}

// emit returns the senders in the order they first sent and how many
// packets the full set did not look up; then it empties the set.
func (s *senderSet) emit() (senders []Sender, dropped uint64) {
	if len(s.used) > 0 {
		senders = make([]Sender, len(s.used))
		for i, p := range s.used {
			senders[i] = s.keys[p]
			s.hashes[p] = 0
		}
	}
	dropped = s.dropped
	s.used, s.last, s.dropped = s.used[:0], 0, 0
	return senders, dropped
}
