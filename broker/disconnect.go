package broker

import (
	"slices"

	"github.com/mochi-mqtt/server/v2/packets"
)

// DisconnectDevices closes the connections of the given devices, e.g. once
// their household is deleted: authentication happens at CONNECT only, so a
// device already connected would otherwise keep publishing. Reconnecting
// fails as soon as the device is gone from the registry. It returns how many
// connections it closed.
func (b *Broker) DisconnectDevices(ids ...string) int {
	if len(ids) == 0 {
		return 0
	}
	n := 0
	for _, cl := range b.srv.Clients.GetAll() {
		if cl.Closed() || !slices.Contains(ids, string(cl.Properties.Username)) {
			continue
		}
		_ = b.srv.DisconnectClient(cl, packets.ErrNotAuthorized)
		b.log.Info("mqtt connection closed: device deregistered", "username", string(cl.Properties.Username), "client_id", cl.ID)
		n++
	}
	return n
}
