package bufconn_test

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/eldersafe/eldersafe/broker"
	"github.com/eldersafe/eldersafe/bufconn"
	"github.com/eldersafe/eldersafe/testkit"
)

// TestOpen passes QoS 1 messages between two paho clients that open their
// connections with bufconn.Open, through the embedded broker over TCP and
// over TLS: every message arrives, in order, and every publish is
// acknowledged.
func TestOpen(t *testing.T) {
	ca := testkit.NewCA(t)
	certFile, keyFile := ca.Server(t, "127.0.0.1", "localhost")
	b, err := broker.New(broker.Options{Addr: "127.0.0.1:0", Auth: broker.AuthNone,
		TLSAddr: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	tlsConfig := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}

	for _, tc := range []struct {
		name, url string
	}{
		{"TCP", "tcp://" + b.Addr()},
		{"TLS", "ssl://" + b.TLSAddr()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const messages = 5000
			topic := "bufconn/" + tc.name
			got := make(chan string, messages)
			sub := connect(t, tc.url, "sub-"+tc.name, tlsConfig)
			if tok := sub.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { got <- string(m.Payload()) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("subscribe: %v", tok.Error())
			}
			pub := connect(t, tc.url, "pub-"+tc.name, tlsConfig)
			toks := make([]paho.Token, messages)
			for i := range messages {
				toks[i] = pub.Publish(topic, 1, false, fmt.Sprintf("message %d", i))
			}
			for i, tok := range toks {
				if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
					t.Fatalf("publish %d not acknowledged: %v", i, tok.Error())
				}
			}
			for i := range messages {
				select {
				case m := <-got:
					if want := fmt.Sprintf("message %d", i); m != want {
						t.Fatalf("received %q, want %q", m, want)
					}
				case <-time.After(30 * time.Second):
					t.Fatalf("received %d of %d messages", i, messages)
				}
			}
		})
	}

	t.Run("UnknownScheme", func(t *testing.T) {
		u, _ := url.Parse("unix:///run/mqtt.sock")
		if _, err := bufconn.Open(u, *paho.NewClientOptions()); err == nil || !strings.Contains(err.Error(), `unknown scheme "unix"`) {
			t.Fatalf("Open(unix://) = %v, want an unknown scheme error", err)
		}
	})
	t.Run("TLSNameChecked", func(t *testing.T) {
		u, _ := url.Parse("ssl://" + b.TLSAddr())
		o := paho.NewClientOptions().SetTLSConfig(&tls.Config{RootCAs: ca.Pool(), ServerName: "someone-else", MinVersion: tls.VersionTLS12})
		if _, err := bufconn.Open(u, *o); err == nil {
			t.Fatal("Open accepted a certificate for another name")
		}
	})
}

func connect(t *testing.T, url, id string, tlsConfig *tls.Config) paho.Client {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(id).
		SetTLSConfig(tlsConfig).SetConnectTimeout(10 * time.Second).
		SetCustomOpenConnectionFn(bufconn.Open))
	if tok := c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s to %s: %v", id, url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(250) })
	return c
}
