package app_test

import (
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/app/apptest"
	"github.com/eldersafe/eldersafe/testkit"
)

// TestExternalBrokerOverTLS: the monitor reads an external Mosquitto over
// TLS with mqtt.tls (its CA, a client certificate the broker requires, the
// broker's name), and a fall published to it opens its task.
func TestExternalBrokerOverTLS(t *testing.T) {
	ca := testkit.NewCA(t)
	tlsAddr, plain := testkit.FreeAddr(t), testkit.FreeAddr(t)
	serverCert, serverKey := ca.Server(t, "mqtt.eldersafe.test")
	testkit.StartMosquitto(t, fmt.Sprintf(`allow_anonymous true
persistence false
listener %s 127.0.0.1
listener %s 127.0.0.1
cafile %s
certfile %s
keyfile %s
require_certificate true
`, testkit.Port(plain), testkit.Port(tlsAddr), ca.File, serverCert, serverKey), plain, tlsAddr)
	cert, key := ca.Client(t, "eldersafe-monitor")

	m := startMonitor(t, "ssl://"+tlsAddr, func(c *app.Config) {
		c.MQTT.TLS = app.ExternalTLS{CAFile: ca.File, CertFile: cert, KeyFile: key, ServerName: "mqtt.eldersafe.test"}
	})
	secrets := m.household("h1", newPushServer(t), newPushServer(t), map[string]string{"wb-1": "wristband"})
	m.Monitor.MQTTURL = "tcp://" + plain // devices on the plain listener
	band := m.Device("wb-1", secrets["wb-1"])
	apptest.Publish(t, band, "eldersafe/v1/devices/wb-1/event", map[string]any{"ts": time.Now().UnixMilli(), "event": "fall"})
	apptest.Eventually(t, "fall task", func() bool { return len(m.tasks("rule=fall")) == 1 })
}

// TestEmbeddedBrokerClientCertificates: with mqtt.broker.client_ca_file a
// wristband logs in to the embedded broker's TLS listener with its
// certificate alone (CN = its device id), and its fall opens a task.
func TestEmbeddedBrokerClientCertificates(t *testing.T) {
	ca := testkit.NewCA(t)
	serverCert, serverKey := ca.Server(t, "127.0.0.1")
	tlsAddr := testkit.FreeAddr(t)
	m := startMonitor(t, "", func(c *app.Config) {
		c.MQTT.Broker.TLSAddr, c.MQTT.Broker.CertFile, c.MQTT.Broker.KeyFile = tlsAddr, serverCert, serverKey
		c.MQTT.Broker.ClientCAFile = ca.File
	})
	m.household("h1", newPushServer(t), newPushServer(t), map[string]string{"wb-1": "wristband"})
	band := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("ssl://" + tlsAddr).SetClientID("wb-1").
		SetTLSConfig(&tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{ca.ClientCert(t, "wb-1")}, MinVersion: tls.VersionTLS12}))
	if tok := band.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("wristband with its certificate: %v", tok.Error())
	}
	defer band.Disconnect(0)
	apptest.Publish(t, band, "eldersafe/v1/devices/wb-1/event", map[string]any{"ts": time.Now().UnixMilli(), "event": "fall"})
	apptest.Eventually(t, "fall task", func() bool { return len(m.tasks("rule=fall")) == 1 })
}
