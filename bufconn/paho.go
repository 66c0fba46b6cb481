package bufconn

import (
	"net"
	"net/url"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/eldersafe/eldersafe/mqttconn"
)

var _ paho.OpenConnectionFunc = Open

// Open is paho's connection opener (ClientOptions.SetCustomOpenConnectionFn)
// with the connection wrapped: it dials uri as paho would (mqttconn.Dial).
func Open(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
	c, err := mqttconn.Dial(uri, o, nil)
	if err != nil {
		return nil, err
	}
	return Wrap(c), nil
}
