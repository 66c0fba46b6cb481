package app_test

import (
	"fmt"
	"testing"
	"time"

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
