//go:build !race

package libpcap

const raceEnabled = false
