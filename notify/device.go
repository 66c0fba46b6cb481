package notify

import (
	"context"
	"errors"
	"fmt"

	"github.com/eldersafe/eldersafe/tasks"
)

// PublishFunc publishes one message, QoS 1, on the broker the monitor uses:
// the embedded one in process, or an external one over its session.
type PublishFunc func(ctx context.Context, topic string, payload []byte) error

// Device sends a device-channel notice (a wristband's check) as an MQTT
// message on {Prefix}/devices/{id}/command; the notice's Message is the
// payload. Every failure is retried: the broker may be reconnecting.
type Device struct {
	Prefix  string
	Publish PublishFunc
}

var _ Sender = Device{}

func (d Device) Send(ctx context.Context, n tasks.Notice) (bool, error) {
	if n.Address == "" {
		return false, errors.New("device notice without a device id")
	}
	if err := d.Publish(ctx, d.Prefix+"/devices/"+n.Address+"/command", []byte(n.Message)); err != nil {
		return true, fmt.Errorf("publish command to %s: %w", n.Address, err)
	}
	return false, nil
}
