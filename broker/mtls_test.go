package broker

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/eldersafe/eldersafe/testkit"
)

// TestBroker_ClientCertificates: with ClientCAFile, a device logs in on the
// TLS listener with a certificate of that CA naming it (CN = its device id)
// and no password; the topic rules are the same as for a password. Devices
// without a certificate still log in with their secret.
func TestBroker_ClientCertificates(t *testing.T) {
	ca := testkit.NewCA(t)
	serverCert, serverKey := ca.Server(t, "127.0.0.1")
	b := startBroker(t, func(o *Options) {
		o.TLSAddr, o.CertFile, o.KeyFile, o.ClientCAFile = "127.0.0.1:0", serverCert, serverKey, ca.File
	})
	mon := monitor(t, b)
	// overTLS dials the TLS listener, showing cert when it has one.
	overTLS := func(certs ...tls.Certificate) func(*paho.ClientOptions) {
		return func(o *paho.ClientOptions) {
			o.Servers = nil
			o.AddBroker("ssl://" + b.TLSAddr())
			o.SetTLSConfig(&tls.Config{RootCAs: ca.Pool(), Certificates: certs, MinVersion: tls.VersionTLS12})
		}
	}
	devA := ca.ClientCert(t, "dev-a")

	t.Run("CertificateNamesTheDevice", func(t *testing.T) {
		dev := mustDial(t, b.TLSAddr(), clientID("dev-a"), "", "", overTLS(devA))
		dev.mustPublish(t, deviceTopic("dev-a", "event"), 1, "by certificate")
		mon.expect(t, deviceTopic("dev-a", "event"), "by certificate")
		// Its own topics only: another device's is refused as for a password.
		dev.Publish(deviceTopic("dev-b", "event"), 1, false, `{"event":"sos"}`)
		dev.waitLost(t)
	})
	t.Run("UsernameMatchingTheCertificate", func(t *testing.T) {
		dev := mustDial(t, b.TLSAddr(), clientID("dev-a"), "dev-a", "", overTLS(devA))
		dev.mustPublish(t, deviceTopic("dev-a", "event"), 1, "named twice")
		mon.expect(t, deviceTopic("dev-a", "event"), "named twice")
	})
	t.Run("PasswordWithoutCertificate", func(t *testing.T) {
		dev := mustDial(t, b.TLSAddr(), clientID("dev-b"), "dev-b", "secret-b", overTLS())
		dev.mustPublish(t, deviceTopic("dev-b", "event"), 1, "by password")
		mon.expect(t, deviceTopic("dev-b", "event"), "by password")
	})

	refused := []struct {
		name       string
		user, pass string
		cert       tls.Certificate
	}{
		{"AnotherDevicesUsername", "dev-b", "secret-b", devA},
		{"UnregisteredDevice", "", "", ca.ClientCert(t, "dev-z")},
		{"SimulatorsName", "", "", ca.ClientCert(t, SimUsername)},
		{"NotADeviceID", "", "", ca.ClientCert(t, "dev-a/event")},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dial(t, b.TLSAddr(), clientID("bad"), tc.user, tc.pass, overTLS(tc.cert))
			if !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
				t.Fatalf("connect error = %v, want %v", err, packets.ErrorRefusedNotAuthorised)
			}
		})
	}
	t.Run("CertificateOfAnotherCA", func(t *testing.T) {
		_, err := dial(t, b.TLSAddr(), clientID("dev-a"), "", "", overTLS(testkit.NewCA(t).ClientCert(t, "dev-a")))
		if err == nil || errors.Is(err, packets.ErrorRefusedNotAuthorised) {
			t.Fatalf("connect error = %v, want the TLS handshake refused", err)
		}
	})
	t.Run("NoCredentialsAtAll", func(t *testing.T) {
		_, err := dial(t, b.TLSAddr(), clientID("anon"), "", "", overTLS())
		if !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
			t.Fatalf("connect error = %v, want %v", err, packets.ErrorRefusedNotAuthorised)
		}
	})
	// The plain listener never sees a certificate: a password as ever.
	t.Run("PlainListener", func(t *testing.T) {
		if _, err := dial(t, b.Addr(), clientID("dev-a"), "dev-a", "", nil); !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
			t.Fatalf("connect error = %v, want %v", err, packets.ErrorRefusedNotAuthorised)
		}
	})
}

func TestNew_ClientCAFile(t *testing.T) {
	ca := testkit.NewCA(t)
	cert, key := ca.Server(t, "127.0.0.1")
	cases := []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"WithoutTLS", func(o *Options) { o.ClientCAFile = ca.File }, "ClientCAFile needs the TLS listener"},
		{"Missing", func(o *Options) {
			o.TLSAddr, o.CertFile, o.KeyFile, o.ClientCAFile = "127.0.0.1:0", cert, key, "/nonexistent/ca.pem"
		}, "client ca"},
		{"NotPEM", func(o *Options) { o.TLSAddr, o.CertFile, o.KeyFile, o.ClientCAFile = "127.0.0.1:0", cert, key, key }, "no PEM certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions()
			tc.edit(&o)
			if _, err := New(o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
