package transport

import (
	"sync/atomic"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// stdioSession is the one client session of a stdio server: what mcp-go's
// own stdio session keeps (initialized, the logging level, the client's
// info, capabilities and protocol version) and the channel of notifications
// the tools send it. The server sends the client no requests (sampling,
// elicitation, roots), so the session offers none.
type stdioSession struct {
	notifications chan mcp.JSONRPCNotification
	initialized   atomic.Bool
	level         atomic.Value // mcp.LoggingLevel
	info          atomic.Value // mcp.Implementation
	caps          atomic.Value // mcp.ClientCapabilities
	version       atomic.Value // string
}

// stdioNotifications is how many notifications may wait to be written, as
// in mcp-go's stdio session; past it a notification is dropped (mcp-go
// reports that to the sender).
const stdioNotifications = 100

func newStdioSession() *stdioSession {
	return &stdioSession{notifications: make(chan mcp.JSONRPCNotification, stdioNotifications)}
}

var (
	_ server.SessionWithLogging         = (*stdioSession)(nil)
	_ server.SessionWithClientInfo      = (*stdioSession)(nil)
	_ server.SessionWithProtocolVersion = (*stdioSession)(nil)
)

// SessionID is "stdio", as mcp-go's stdio session's.
func (s *stdioSession) SessionID() string { return "stdio" }

// NotificationChannel is where the server's notifications to the client go.
func (s *stdioSession) NotificationChannel() chan<- mcp.JSONRPCNotification {
	return s.notifications
}

// Initialize marks the session initialized, with log messages of level
// error and above sent until the client sets another level.
func (s *stdioSession) Initialize() {
	s.level.Store(mcp.LoggingLevelError)
	s.initialized.Store(true)
}

// Initialized reports whether the client has initialized the session.
func (s *stdioSession) Initialized() bool { return s.initialized.Load() }

// SetLogLevel sets the least level of the log messages sent to the client.
func (s *stdioSession) SetLogLevel(level mcp.LoggingLevel) { s.level.Store(level) }

// GetLogLevel is the least level of the log messages sent to the client
// (error until set).
func (s *stdioSession) GetLogLevel() mcp.LoggingLevel {
	if l, ok := s.level.Load().(mcp.LoggingLevel); ok {
		return l
	}
	return mcp.LoggingLevelError
}

// GetClientInfo is the clientInfo the client sent (in initialize, or in a
// request's _meta).
func (s *stdioSession) GetClientInfo() mcp.Implementation {
	info, _ := s.info.Load().(mcp.Implementation)
	return info
}

// SetClientInfo records the client's clientInfo.
func (s *stdioSession) SetClientInfo(info mcp.Implementation) { s.info.Store(info) }

// GetClientCapabilities are the capabilities the client declared.
func (s *stdioSession) GetClientCapabilities() mcp.ClientCapabilities {
	caps, _ := s.caps.Load().(mcp.ClientCapabilities)
	return caps
}

// SetClientCapabilities records the client's capabilities.
func (s *stdioSession) SetClientCapabilities(caps mcp.ClientCapabilities) { s.caps.Store(caps) }

// ProtocolVersion is the protocol version in effect ("" before initialize).
func (s *stdioSession) ProtocolVersion() string {
	v, _ := s.version.Load().(string)
	return v
}

// SetProtocolVersion records the protocol version in effect.
func (s *stdioSession) SetProtocolVersion(v string) { s.version.Store(v) }
