// Package privilege drops what the exporter does not need once it knows
// what it will do: every capability but the few its sources need (CAP_NET_RAW
// for live capture), and, as root, optionally the user.
//
// Capabilities are per thread in Linux, and a Go program has many threads
// before main runs; Go cannot change them all when cgo (or purego's stand-in
// for it) is linked. So the drop happens the one way that covers every
// thread: one locked thread sets its user and capabilities, makes the kept
// ones ambient, and re-executes the binary, which starts with only those.
//
// It sits beside the flow, in cmd/netanomaly_exporter's start-up: serve
// calls Drop before it opens a capture or a listener, so no stage of the
// flow (capture -> decode -> features -> detector -> collector) runs with
// more than those few capabilities.
package privilege

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Capability numbers (linux/capability.h) of those the exporter may keep.
const (
	CapNetBindService = 10
	CapNetAdmin       = 12
	CapNetRaw         = 13
)

// Set is a set of capabilities, one bit per capability number.
type Set uint64

// Has reports whether c is in s.
func (s Set) Has(c int) bool { return s&(1<<c) != 0 }

// Of returns the set of the capabilities given.
func Of(caps ...int) Set {
	var s Set
	for _, c := range caps {
		s |= 1 << c
	}
	return s
}

var capNames = map[int]string{
	0: "CAP_CHOWN", 1: "CAP_DAC_OVERRIDE", 2: "CAP_DAC_READ_SEARCH", 3: "CAP_FOWNER", 4: "CAP_FSETID",
	5: "CAP_KILL", 6: "CAP_SETGID", 7: "CAP_SETUID", 8: "CAP_SETPCAP", 9: "CAP_LINUX_IMMUTABLE",
	10: "CAP_NET_BIND_SERVICE", 11: "CAP_NET_BROADCAST", 12: "CAP_NET_ADMIN", 13: "CAP_NET_RAW",
	14: "CAP_IPC_LOCK", 15: "CAP_IPC_OWNER", 16: "CAP_SYS_MODULE", 17: "CAP_SYS_RAWIO", 18: "CAP_SYS_CHROOT",
	19: "CAP_SYS_PTRACE", 20: "CAP_SYS_PACCT", 21: "CAP_SYS_ADMIN", 22: "CAP_SYS_BOOT", 23: "CAP_SYS_NICE",
	24: "CAP_SYS_RESOURCE", 25: "CAP_SYS_TIME", 26: "CAP_SYS_TTY_CONFIG", 27: "CAP_MKNOD", 28: "CAP_LEASE",
	29: "CAP_AUDIT_WRITE", 30: "CAP_AUDIT_CONTROL", 31: "CAP_SETFCAP", 32: "CAP_MAC_OVERRIDE",
	33: "CAP_MAC_ADMIN", 34: "CAP_SYSLOG", 35: "CAP_WAKE_ALARM", 36: "CAP_BLOCK_SUSPEND", 37: "CAP_AUDIT_READ",
	38: "CAP_PERFMON", 39: "CAP_BPF", 40: "CAP_CHECKPOINT_RESTORE",
}

// String lists the capabilities by name, "none" for the empty set.
func (s Set) String() string {
	var names []string
	for c := range 64 {
		if !s.Has(c) {
			continue
		}
		if n, ok := capNames[c]; ok {
			names = append(names, n)
		} else {
			names = append(names, "CAP_"+strconv.Itoa(c))
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

// Status is a process's (or thread's) identity and capabilities, as
// /proc/PID/status reports them.
type Status struct {
	UID, GID                                         int
	Effective, Permitted, Inheritable, Bounding, Amb Set
}

// ParseStatus reads the Uid, Gid and Cap* lines of a /proc/PID/status text.
func ParseStatus(text string) (Status, error) {
	var st Status
	seen := 0
	for line := range strings.Lines(text) {
		key, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) == 0 {
			continue
		}
		var err error
		switch key {
		case "Uid", "Gid":
			var id int
			if id, err = strconv.Atoi(fields[0]); err == nil { // the real id
				if key == "Uid" {
					st.UID = id
				} else {
					st.GID = id
				}
			}
		case "CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb":
			var v uint64
			if v, err = strconv.ParseUint(fields[0], 16, 64); err == nil {
				*map[string]*Set{"CapEff": &st.Effective, "CapPrm": &st.Permitted, "CapInh": &st.Inheritable, "CapBnd": &st.Bounding, "CapAmb": &st.Amb}[key] = Set(v)
			}
		default:
			continue
		}
		if err != nil {
			return Status{}, fmt.Errorf("status line %q: %w", strings.TrimSpace(line), err)
		}
		seen++
	}
	if seen < 7 {
		return Status{}, errors.New("status lacks Uid, Gid or Cap* lines")
	}
	return st, nil
}
