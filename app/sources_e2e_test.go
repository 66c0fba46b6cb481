package app_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/app/apptest"
)

// TestSourcesDriveTheRules: off-the-shelf devices in their own formats
// (CONTRACT §14) — a Zigbee2MQTT PIR and SOS button behind a gateway, a
// Tasmota plug that is its own MQTT client, a wmbusmeters water meter
// behind the gateway — reach the rules as native devices do: their status
// shows what they said, and the SOS opens its task on the alarm lane.
func TestSourcesDriveTheRules(t *testing.T) {
	brokers(t, func(t *testing.T, mqttURL string) {
		m := startMonitor(t, mqttURL, func(cfg *app.Config) {
			for _, s := range []*app.SourceConfig{&cfg.Sources.Zigbee2MQTT, &cfg.Sources.Tasmota, &cfg.Sources.Wmbusmeters} {
				s.Enabled = true
			}
		})
		// Names of their own, should an external broker be shared.
		run := strconv.FormatInt(time.Now().UnixNano(), 36)
		pirName, sosName, plugTopic, meterName := "h1/Kitchen PIR "+run, "h1/SOS "+run, "plug-"+run, "meter-"+run
		worker, family := newPushServer(t), newPushServer(t)
		secrets := m.household("h1", worker, family, map[string]string{"gw-1": "gateway"})
		for _, d := range []map[string]any{
			{"id": "pir-1", "kind": "motion_sensor", "source": "zigbee2mqtt", "source_topic": pirName, "gateway_id": "gw-1"},
			{"id": "sos-1", "kind": "wristband", "source": "zigbee2mqtt", "source_topic": sosName, "gateway_id": "gw-1"},
			{"id": "meter-1", "kind": "water_meter", "source": "wmbusmeters", "source_topic": meterName, "gateway_id": "gw-1"},
			{"id": "plug-1", "kind": "power_meter", "source": "tasmota", "source_topic": plugTopic},
		} {
			var out struct {
				Secret string `json:"secret"`
			}
			d["household_id"] = "h1"
			m.MustCall("POST", "/api/v1/devices", d, 201, &out)
			secrets[d["id"].(string)] = out.Secret
		}

		// The gateway logs in with its own credential and leaves its Will on
		// its bridge topic, as Zigbee2MQTT does; the plug is its own client.
		gw := dial(t, m, "gw-1", secrets["gw-1"], "zigbee2mqtt/bridge/state", `{"state":"offline"}`)
		plug := dial(t, m, "plug-1", secrets["plug-1"], "tele/"+plugTopic+"/LWT", "Offline")
		apptest.Publish(t, gw, "zigbee2mqtt/bridge/state", `{"state":"online"}`) // none of ingest's business
		apptest.Publish(t, plug, "tele/"+plugTopic+"/LWT", "Online")

		now := time.Now().Add(-time.Second).UTC().Truncate(time.Second)
		shanghai, _ := time.LoadLocation("Asia/Shanghai")
		apptest.Publish(t, gw, "zigbee2mqtt/"+pirName, fmt.Sprintf(`{"battery":97,"linkquality":120,"occupancy":true,"voltage":3005,"last_seen":%q}`, now.Format("2006-01-02T15:04:05.000Z")))
		apptest.Publish(t, gw, "wmbusmeters/"+meterName, fmt.Sprintf(`{"_":"telegram","media":"water","meter":"iperl","name":%q,"id":"33225544","max_flow_m3h":0,"total_m3":123.529,"timestamp":%q}`, meterName, now.Format(time.RFC3339)))
		apptest.Publish(t, plug, "tele/"+plugTopic+"/SENSOR", fmt.Sprintf(`{"Time":%q,"ENERGY":{"TotalStartTime":"2024-01-01T00:00:00","Total":514.153,"Yesterday":1.204,"Today":0.857,"Power":56,"Voltage":231,"Current":0.260}}`, now.In(shanghai).Format("2006-01-02T15:04:05")))

		type status struct {
			LastSeen   time.Time      `json:"last_seen"`
			Online     bool           `json:"online"`
			BatteryPct *float64       `json:"battery_pct"`
			Last       map[string]any `json:"last"`
		}
		statuses := map[string]*status{}
		apptest.Eventually(t, "the three devices' status", func() bool {
			var h struct {
				Devices []struct {
					ID     string  `json:"id"`
					Status *status `json:"status"`
				} `json:"devices"`
			}
			m.MustCall("GET", "/api/v1/households/h1", nil, 200, &h)
			for _, d := range h.Devices {
				statuses[d.ID] = d.Status
			}
			return statuses["pir-1"] != nil && statuses["meter-1"] != nil && statuses["plug-1"] != nil
		})
		for id, want := range map[string]map[string]any{
			"pir-1":   {"motion": true},
			"meter-1": {"total_liters": 123529.0},
			"plug-1":  {"total_kwh": 514.153, "power_w": 56.0},
		} {
			st := statuses[id]
			if !st.Online || !st.LastSeen.Equal(now) || fmt.Sprint(st.Last) != fmt.Sprint(want) {
				t.Errorf("%s: %+v, want online at %s with %v", id, st, now, want)
			}
		}
		if b := statuses["pir-1"].BatteryPct; b == nil || *b != 97 {
			t.Errorf("pir-1's battery %v, want 97", b)
		}
		if statuses["gw-1"] != nil {
			t.Errorf("the gateway has a status of its own: %+v", statuses["gw-1"])
		}

		// An SOS button's press opens the sos task.
		apptest.Publish(t, gw, "zigbee2mqtt/"+sosName, fmt.Sprintf(`{"action":"emergency","battery":100,"linkquality":65,"voltage":3000,"last_seen":%d}`, now.Add(time.Second).UnixMilli()))
		var tasks []task
		apptest.Eventually(t, "sos task", func() bool { tasks = m.tasks("rule=sos"); return len(tasks) > 0 })
		if len(tasks) != 1 || tasks[0].Severity != "critical" || tasks[0].HouseholdID != "h1" {
			t.Errorf("tasks = %+v", tasks)
		}
		apptest.Eventually(t, "family push", func() bool { return len(family.requests()) > 0 })
		if n := m.Metric(`eldersafe_ingest_messages_total{kind="wristband",stream="event"}`); n != 1 {
			t.Errorf("SOS counted %v times on the event stream, want 1", n)
		}

		// The same message again (a QoS 1 redelivery) is a duplicate; a
		// topic nobody is registered on is an unknown device.
		apptest.Publish(t, plug, "tele/"+plugTopic+"/SENSOR", fmt.Sprintf(`{"Time":%q,"ENERGY":{"TotalStartTime":"2024-01-01T00:00:00","Total":514.153,"Yesterday":1.204,"Today":0.857,"Power":56,"Voltage":231,"Current":0.260}}`, now.In(shanghai).Format("2006-01-02T15:04:05")))
		apptest.Eventually(t, "duplicate counted", func() bool {
			return m.Metric(`eldersafe_ingest_rejected_total{reason="duplicate"}`) == 1
		})
		if mqttURL != "" {
			// On the embedded broker the gateway could not publish there at all.
			apptest.Publish(t, gw, "zigbee2mqtt/nobody-"+run, fmt.Sprintf(`{"occupancy":true,"last_seen":%d}`, now.UnixMilli()))
			apptest.Eventually(t, "unknown device counted", func() bool {
				return m.Metric(`eldersafe_ingest_rejected_total{reason="unknown_device"}`) == 1
			})
		}
	})
}

// TestGatewayPublishesOnlyForItsDevices: on the embedded broker a gateway
// is refused another device's source topic (MQTT 3.1.1: disconnected), and
// so is a device that is no gateway.
func TestGatewayPublishesOnlyForItsDevices(t *testing.T) {
	m := startMonitor(t, "", func(cfg *app.Config) { cfg.Sources.Zigbee2MQTT.Enabled = true })
	worker, family := newPushServer(t), newPushServer(t)
	secrets := m.household("h1", worker, family, map[string]string{"gw-1": "gateway", "gw-2": "gateway", "wb-1": "wristband"})
	m.MustCall("POST", "/api/v1/devices", map[string]any{"id": "pir-1", "kind": "motion_sensor", "household_id": "h1",
		"source": "zigbee2mqtt", "source_topic": "h1/pir", "gateway_id": "gw-1"}, 201, nil)
	for _, id := range []string{"gw-2", "wb-1"} {
		c := dial(t, m, id, secrets[id], "", "")
		tok := c.Publish("zigbee2mqtt/h1/pir", 1, false, `{"occupancy":true,"last_seen":1772413920000}`)
		apptest.Eventually(t, id+" disconnected", func() bool { return !c.IsConnectionOpen() })
		if tok.WaitTimeout(time.Second) && tok.Error() == nil {
			t.Errorf("%s: publish acknowledged", id)
		}
	}
	if n := m.Metric(`eldersafe_ingest_messages_total{kind="motion_sensor",stream="event"}`); n != 0 {
		t.Errorf("%v PIR messages taken from others than its gateway", n)
	}
}

// dial connects a device with its credential and, when will is set, a Last
// Will there.
func dial(t *testing.T, m *monitor, id, secret, will, payload string) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker(m.mqttURL).SetClientID("dev-" + id + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)).
		SetUsername(id).SetPassword(secret).SetConnectTimeout(5 * time.Second).SetAutoReconnect(false)
	if will != "" {
		o.SetWill(will, payload, 1, true)
	}
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("%s: connect: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}
