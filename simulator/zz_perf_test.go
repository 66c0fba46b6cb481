package simulator_test

import (
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/simulator"
)

func TestZZPerf(t *testing.T) {
	sc, _ := simulator.Load("normal_week")
	sc.Duration = 12 * time.Hour
	out, _ := simulate(t, startMonitor(t), sc)
	t.Logf("%d messages in %s flush %s catch %s", out.Result.Messages, out.Result.Wall, simulator.DebugFlush, simulator.DebugCatch)
}
