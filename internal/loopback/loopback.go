// Package loopback answers one question for config (bind checks, plain-http
// base URLs) and transport (allowed browser origins): does a host name only
// reach this machine?
package loopback

import (
	"net"
	"strings"
)

// Host reports whether host (no port; IPv6 without brackets) is localhost
// or a loopback IP such as 127.0.0.1 or ::1.
func Host(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Addr reports whether the host of addr (host:port) is loopback. An empty
// host (all interfaces) or a malformed addr is not.
func Addr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && Host(host)
}
