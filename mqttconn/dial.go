// Package mqttconn opens paho's MQTT connections as paho itself would
// (ClientOptions.SetCustomOpenConnectionFn), so that the connection can be
// given something paho has no option for: bufconn's buffering, or
// QuickAck's immediate TCP acknowledgements.
package mqttconn

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"

	paho "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/net/proxy"
)

// Opener is paho's connection opener with tcp (when not nil) applied to the
// TCP connection it dials, under TLS if any. A websocket connection, which
// paho's websocket library dials itself, is returned as it comes.
func Opener(tcp func(net.Conn) net.Conn) paho.OpenConnectionFunc {
	return func(uri *url.URL, o paho.ClientOptions) (net.Conn, error) { return Dial(uri, o, tcp) }
}

// Dial dials uri as paho would: TCP and TLS through the proxy of the
// environment (all_proxy), websockets with paho's own dialer. tcp, when not
// nil, is applied to the TCP connection, under TLS if any.
func Dial(uri *url.URL, o paho.ClientOptions, tcp func(net.Conn) net.Conn) (net.Conn, error) {
	dialer := o.Dialer
	if dialer == nil {
		dialer = &net.Dialer{Timeout: o.ConnectTimeout}
	}
	if tcp == nil {
		tcp = func(c net.Conn) net.Conn { return c }
	}
	switch uri.Scheme {
	case "tcp", "mqtt":
		c, err := proxy.FromEnvironmentUsing(dialer).Dial("tcp", uri.Host)
		if err != nil {
			return nil, err
		}
		return tcp(c), nil
	case "ssl", "tls", "mqtts", "mqtt+ssl", "tcps":
		return dialTLS(dialer, uri.Host, o, tcp)
	case "ws", "wss":
		// The websocket library refuses a url with credentials in it.
		u := *uri
		u.User = nil
		return paho.NewWebsocket(u.String(), o.TLSConfig, o.ConnectTimeout, o.HTTPHeaders, o.WebsocketOptions)
	default:
		return nil, fmt.Errorf("mqtt %s: unknown scheme %q", uri.Redacted(), uri.Scheme)
	}
}

func dialTLS(dialer *net.Dialer, addr string, o paho.ClientOptions, tcp func(net.Conn) net.Conn) (net.Conn, error) {
	raw, err := proxy.FromEnvironmentUsing(dialer).Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{}
	if o.TLSConfig != nil {
		cfg = o.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		cfg.ServerName = host
	}
	ctx := context.Background()
	if o.ConnectTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.ConnectTimeout)
		defer cancel()
	}
	c := tls.Client(tcp(raw), cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
	}
	return c, nil
}
