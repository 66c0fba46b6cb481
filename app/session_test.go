package app_test

import (
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/app/apptest"
	"github.com/eldersafe/eldersafe/testkit"
)

// TestExternalBrokerKeepsWhatArrivedWhileDown: with an external broker, the
// monitor's persistent session holds a fall published while it was stopped,
// and the restarted monitor opens its task.
func TestExternalBrokerKeepsWhatArrivedWhileDown(t *testing.T) {
	url := testkit.MosquittoURL(t)
	dataDir := t.TempDir()
	clientID := "eldersafe-session-" + time.Now().Format("150405.000000")
	same := func(c *app.Config) { c.DataDir, c.MQTT.ClientID = dataDir, clientID }

	first := startMonitor(t, url, same)
	worker, family := newPushServer(t), newPushServer(t)
	secrets := first.household("h1", worker, family, map[string]string{"wb-1": "wristband"})
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	band := first.Device("wb-1", secrets["wb-1"])
	apptest.Publish(t, band, "eldersafe/v1/devices/wb-1/event", map[string]any{"ts": time.Now().UTC().Format(time.RFC3339), "event": "fall", "seq": 1})

	second := startMonitor(t, url, same)
	apptest.Eventually(t, "the fall published while the monitor was down opens a task", func() bool {
		return len(second.tasks("rule=fall&household_id=h1")) == 1
	})
}
