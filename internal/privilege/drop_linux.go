package privilege

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// marker tells the re-executed binary that the drop happened.
const marker = "NETANOMALY_PRIVILEGES_DROPPED"

// Securebits (linux/securebits.h).
const (
	secbitNoroot       = 1 << 0
	secbitNorootLocked = 1 << 1
	secbitKeepCaps     = 1 << 4
)

// ErrCannotDrop reports a process that holds capabilities it does not need
// but lacks what dropping them takes (CAP_SETPCAP): it runs on with them.
var ErrCannotDrop = errors.New("cannot drop capabilities")

// Config says what the process keeps.
type Config struct {
	Keep Set    // capabilities to keep
	User string // run as this user (name, or uid[:gid]); needs root
}

// Drop makes the process hold no capability outside cfg.Keep and run as
// cfg.User, re-executing the binary when that takes a change: it does not
// return then. It returns a line for the log saying what it did, or
// nothing when there was nothing to drop. After the re-execution it checks
// the result. A process with capabilities it may not drop gets
// ErrCannotDrop (run on, and warn); a bad user is an error.
func Drop(cfg Config) (string, error) {
	if os.Getenv(marker) != "" {
		_ = os.Unsetenv(marker)
		st, err := self()
		if err != nil {
			return "", err
		}
		if st.Permitted&^cfg.Keep != 0 || st.Effective != st.Permitted {
			return "", fmt.Errorf("capabilities after the drop are %s (effective %s), want %s", st.Permitted, st.Effective, cfg.Keep)
		}
		return fmt.Sprintf("running as uid %d gid %d with capabilities %s", st.UID, st.GID, st.Permitted), nil
	}
	st, err := self()
	if err != nil {
		return "", err
	}
	uid, gid := st.UID, st.GID
	if cfg.User != "" {
		if uid, gid, err = lookup(cfg.User); err != nil {
			return "", err
		}
		if st.UID != 0 && uid != st.UID {
			return "", fmt.Errorf("--process.user=%s: only root can change user (running as uid %d)", cfg.User, st.UID)
		}
	}
	extra := st.Permitted &^ cfg.Keep
	if extra == 0 && uid == st.UID && gid == st.GID {
		return "", nil
	}
	need := Of(unix.CAP_SETPCAP)
	if uid != st.UID || gid != st.GID {
		need |= Of(unix.CAP_SETUID, unix.CAP_SETGID)
	}
	if st.Effective&need != need {
		if cfg.User != "" {
			return "", fmt.Errorf("--process.user=%s: changing user needs %s, the process has %s", cfg.User, need, st.Effective)
		}
		return "", fmt.Errorf("%w: the process holds %s beyond what it needs (%s) but not CAP_SETPCAP to drop them: grant only %s", ErrCannotDrop, extra, cfg.Keep, cfg.Keep)
	}
	return "", reexec(cfg.Keep, uid, gid, uid != st.UID || gid != st.GID)
}

// reexec drops on one locked thread and executes the binary again from it:
// the new image's every thread starts with that thread's credentials.
func reexec(keep Set, uid, gid int, switchUser bool) error {
	runtime.LockOSThread() // never unlocked: this thread's credentials change
	last := lastCap()
	for c := 0; c <= last; c++ {
		if keep.Has(c) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	// Root gains no capability at exec (NOROOT, locked), and keeps its
	// permitted ones across the user change below (KEEP_CAPS).
	bits := uintptr(secbitNoroot | secbitNorootLocked | secbitKeepCaps)
	if err := unix.Prctl(unix.PR_SET_SECUREBITS, bits, 0, 0, 0); err != nil {
		return fmt.Errorf("set securebits: %w", err)
	}
	if switchUser {
		// Raw system calls: this thread only (the process ends in exec).
		if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0); e != 0 {
			return fmt.Errorf("clear supplementary groups: %w", e)
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(gid), uintptr(gid), uintptr(gid)); e != 0 {
			return fmt.Errorf("set gid %d: %w", gid, e)
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
			return fmt.Errorf("set uid %d: %w", uid, e)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i := range data {
		half := uint32(uint64(keep) >> (32 * i))
		data[i] = unix.CapUserData{Effective: half, Permitted: half, Inheritable: half}
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("set capabilities to %s: %w", keep, err)
	}
	for c := 0; c <= last; c++ {
		if keep.Has(c) {
			if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
				return fmt.Errorf("make %s ambient: %w", Of(c), err)
			}
		}
	}
	env := append(os.Environ(), marker+"=1")
	// The binary by its path keeps the process name (ps, top, systemd);
	// /proc/self/exe still runs it if the path is gone (an upgrade).
	path, err := os.Executable()
	if err != nil {
		path = "/proc/self/exe"
	}
	err = unix.Exec(path, os.Args, env)
	if path != "/proc/self/exe" {
		err = unix.Exec("/proc/self/exe", os.Args, env)
	}
	return fmt.Errorf("re-execute the binary with fewer privileges: %w", err)
}

// self returns this thread's status: at start every thread has the same.
func self() (Status, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/status", unix.Gettid()))
	if err != nil {
		return Status{}, fmt.Errorf("read capabilities: %w", err)
	}
	return ParseStatus(string(b))
}

// lastCap returns the highest capability number the kernel knows.
func lastCap() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 40
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 0 || n > 63 {
		return 40
	}
	return n
}

// lookup resolves "name", "uid", "name:group" or "uid:gid".
func lookup(spec string) (uid, gid int, err error) {
	name, group, hasGroup := strings.Cut(spec, ":")
	u, err := user.Lookup(name)
	if err != nil {
		if u, err = user.LookupId(name); err != nil {
			if _, nerr := strconv.Atoi(name); nerr != nil {
				return 0, 0, fmt.Errorf("--process.user=%s: no such user: %w", spec, err)
			}
			u = &user.User{Uid: name, Gid: name} // a bare uid: its own gid
		}
	}
	if hasGroup {
		g, err := user.LookupGroup(group)
		if err != nil {
			if g, err = user.LookupGroupId(group); err != nil {
				if _, nerr := strconv.Atoi(group); nerr != nil {
					return 0, 0, fmt.Errorf("--process.user=%s: no such group: %w", spec, err)
				}
				g = &user.Group{Gid: group}
			}
		}
		u.Gid = g.Gid
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil || uid < 0 || gid < 0 {
		return 0, 0, fmt.Errorf("--process.user=%s: bad id %q:%q", spec, u.Uid, u.Gid)
	}
	return uid, gid, nil
}
