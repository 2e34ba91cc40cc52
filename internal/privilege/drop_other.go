//go:build !linux

package privilege

import "errors"

// ErrCannotDrop reports a process that cannot drop what it does not need.
var ErrCannotDrop = errors.New("cannot drop capabilities")

// Config says what the process keeps.
type Config struct {
	Keep Set
	User string
}

// Drop does nothing where capabilities are not Linux's.
func Drop(cfg Config) (string, error) {
	if cfg.User != "" {
		return "", errors.New("--process.user is supported on Linux only")
	}
	return "", nil
}
