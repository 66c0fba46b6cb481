// Package influx writes the readings history to InfluxDB and reads the
// console's charts back from it, with influxdb-client-go v2. It speaks the
// v2 API: InfluxDB 2.x, or InfluxDB 1.8 (its /api/v2/write and, with
// flux-enabled = true, /api/v2/query compatibility endpoints).
//
// Writing never blocks the caller. Reading and TaskChanged put the point on
// a bounded queue, or drop and count it when the queue is full. A goroutine
// of the Writer empties the queue every 20 ms, encodes the points as line
// protocol and hands them to the client's non-blocking WriteAPI, which
// batches and retries. That extra queue matters: the client's own
// WritePoint and WriteRecord wait while a batch is being sent, which is up
// to the HTTP timeout when InfluxDB hangs.
package influx

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	influxlog "github.com/influxdata/influxdb-client-go/v2/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/eldersafe/eldersafe/history"
	"github.com/eldersafe/eldersafe/rules"
)

func init() {
	// The client logs every failed write to stderr through the standard
	// logger, unthrottled. The Writer counts and logs failures itself,
	// rate-limited, so the client's logging is off. Set here, before any
	// client goroutine can read it.
	influxlog.Log = nil
}

// Measurements written (CONTRACT.md §9).
const (
	MeasurementReading   = "reading"
	MeasurementTaskEvent = "task_event"
)

// Defaults of Options.
const (
	DefaultQueue         = 10000
	DefaultBatchSize     = 5000
	DefaultFlushInterval = time.Second
	DefaultTimeout       = 5 * time.Second
	// DefaultCloseTimeout bounds Close's last flush.
	DefaultCloseTimeout = 10 * time.Second
)

// Options wire a Writer.
type Options struct {
	// URL of the InfluxDB server (http://127.0.0.1:8086); required.
	URL string
	// Token: a 2.x API token, or "user:password" for InfluxDB 1.8 with
	// authentication on (empty: none).
	Token string
	// Org: the 2.x organisation; ignored by 1.8 (leave empty).
	Org string
	// Bucket: the 2.x bucket, or "database/retention-policy" on 1.8
	// ("eldersafe/autogen"); required.
	Bucket string
	// Queue bounds the points waiting for the client; when it is full a
	// point is dropped and counted. Zero: DefaultQueue.
	Queue int
	// BatchSize bounds the points of one write request; a batch is sent
	// when it is full or FlushInterval after the last send. Zero: the
	// defaults. (The client counts records, and a record here holds up to
	// chunkLines points, so a batch holds at least BatchSize/chunkLines.)
	BatchSize     uint
	FlushInterval time.Duration
	// Timeout bounds one HTTP request to InfluxDB. Zero: DefaultTimeout.
	Timeout time.Duration
	// CloseTimeout bounds the last flush in Close. Zero: DefaultCloseTimeout.
	CloseTimeout time.Duration
	Logger       *slog.Logger
	// Registerer receives the writer's metrics. Nil: a private registry.
	Registerer prometheus.Registerer
}

func (o *Options) validate() error {
	u, err := url.Parse(o.URL)
	if o.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("influxdb: url %q: want http://host:port or https://host:port", o.URL)
	}
	if o.Bucket == "" {
		return errors.New("influxdb: bucket is required")
	}
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = DefaultCloseTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	return nil
}

// Writer writes readings and task changes to InfluxDB and answers charts
// from it. Create it with New and stop it with Close.
type Writer struct {
	opts   Options
	client influxdb2.Client
	write  api.WriteAPI
	query  api.QueryAPI

	queue chan item
	stop  chan struct{}
	// pumped is closed when the queue goroutine has stopped; drained when
	// the errors goroutine has (the client closed its errors channel).
	pumped, drained chan struct{}
	closeOnce       sync.Once

	points, dropped, writeErrors, eraseErrors prometheus.Counter
	errLog, dropLog                           *rateLog
}

// item is one queued point: a reading, or a task change when event is set
// (rare, so kept out of line: the queue's slots stay reading-sized).
type item struct {
	reading rules.Reading
	event   *history.TaskEvent
	// barrier, when set, is closed once everything queued before it was
	// handed to the client (DeleteHousehold).
	barrier chan struct{}
}

var (
	_ history.Recorder = (*Writer)(nil)
	_ history.Charts   = (*Writer)(nil)
)

// New starts a Writer. It does not contact InfluxDB: a server that is down
// shows as write errors, never as a failure to start.
func New(opts Options) (*Writer, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	records := max(1, opts.BatchSize/chunkLines) // per batch
	co := influxdb2.DefaultOptions().
		SetBatchSize(records).
		SetFlushInterval(uint(opts.FlushInterval.Milliseconds())).
		SetPrecision(time.Millisecond).
		SetHTTPRequestTimeout(uint(max(1, opts.Timeout.Round(time.Second)/time.Second))).
		// Retries while InfluxDB is away (with the next batch, 5 s after a
		// failure, doubling to a minute apart): for at most 10 minutes, and
		// 20 failed batches held (100,000 points by default). Older go.
		SetMaxRetries(30).
		SetMaxRetryInterval(60_000).
		SetMaxRetryTime(600_000).
		SetRetryBufferLimit(20 * records)
	w := &Writer{
		opts:    opts,
		client:  influxdb2.NewClientWithOptions(opts.URL, opts.Token, co),
		queue:   make(chan item, opts.Queue),
		stop:    make(chan struct{}),
		pumped:  make(chan struct{}),
		drained: make(chan struct{}),
		errLog:  &rateLog{logger: opts.Logger, every: 30 * time.Second, msg: "influxdb write failed; the client retries the batch"},
		dropLog: &rateLog{logger: opts.Logger, every: 30 * time.Second, msg: "influxdb write queue full; points dropped"},
	}
	w.write = w.client.WriteAPI(opts.Org, opts.Bucket)
	w.query = w.client.QueryAPI(opts.Org)

	f := promauto.With(opts.Registerer)
	w.points = f.NewCounter(prometheus.CounterOpts{
		Name: "eldersafe_influxdb_points_total",
		Help: "Points (readings and task events) handed to the InfluxDB client for writing.",
	})
	w.dropped = f.NewCounter(prometheus.CounterOpts{
		Name: "eldersafe_influxdb_points_dropped_total",
		Help: "Points dropped because the InfluxDB write queue was full.",
	})
	w.writeErrors = f.NewCounter(prometheus.CounterOpts{
		Name: "eldersafe_influxdb_write_errors_total",
		Help: "Failed InfluxDB write requests (each a batch of points; the client retries them).",
	})
	w.eraseErrors = f.NewCounter(prometheus.CounterOpts{
		Name: "eldersafe_influxdb_erase_errors_total",
		Help: "Deleted households whose InfluxDB history could not be erased (erase it by hand: docs/privacy.md).",
	})
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "eldersafe_influxdb_queue_length",
		Help: "Points waiting in the InfluxDB write queue.",
	}, func() float64 { return float64(len(w.queue)) })

	errs := w.write.Errors() // before the first write, or errors are not kept
	go w.drainErrors(errs)
	go w.pump()
	return w, nil
}

// Reading queues an accepted reading; it never blocks.
func (w *Writer) Reading(r rules.Reading) { w.enqueue(item{reading: r}) }

// TaskChanged queues a task change; it never blocks.
func (w *Writer) TaskChanged(e history.TaskEvent) { w.enqueue(item{event: &e}) }

func (w *Writer) enqueue(it item) {
	select {
	case w.queue <- it:
	default:
		w.dropped.Inc()
		w.dropLog.log(nil)
	}
}

// pump hands the queue to the client every drainInterval until Close, then
// once more. Polling rather than waiting on the queue keeps the ingest side
// to a plain buffered send: no goroutine to wake per point. Points go to the
// client as records of up to chunkLines lines, since the client hands every
// record from goroutine to goroutine, which would otherwise cap its rate.
func (w *Writer) pump() {
	defer close(w.pumped)
	t := time.NewTicker(drainInterval)
	defer t.Stop()
	var buf []byte
	for {
		select {
		case <-t.C:
			buf = w.drain(buf)
		case <-w.stop:
			w.drain(buf)
			return
		}
	}
}

// drainInterval is how often the queue is handed to the client: the queue
// (DefaultQueue points) holds 0.5 M points/s before it drops any.
const drainInterval = 20 * time.Millisecond

// chunkLines bounds the lines of one record handed to the client.
const chunkLines = 50

// drain hands everything queued to the client.
func (w *Writer) drain(buf []byte) []byte {
	for {
		n := 0
		buf = buf[:0]
		var barrier chan struct{}
	chunk:
		for n < chunkLines {
			select {
			case it := <-w.queue:
				if it.barrier != nil {
					barrier = it.barrier
					break chunk
				}
				if n > 0 {
					buf = append(buf, '\n')
				}
				buf = appendItem(buf, it)
				n++
			default:
				break chunk
			}
		}
		if n > 0 {
			w.write.WriteRecord(string(buf))
			w.points.Add(float64(n))
		}
		if barrier != nil {
			close(barrier)
			continue
		}
		if n == 0 {
			return buf
		}
	}
}

func appendItem(b []byte, it item) []byte {
	if it.event != nil {
		return AppendTaskEvent(b, *it.event)
	}
	return AppendReading(b, it.reading)
}

// drainErrors counts and logs failed writes until the client closes the
// channel, in Close.
func (w *Writer) drainErrors(errs <-chan error) {
	defer close(w.drained)
	for err := range errs {
		w.writeErrors.Inc()
		w.errLog.log(err)
	}
}

// Close hands InfluxDB what is queued, flushes the client and stops the
// writer's goroutines, waiting at most CloseTimeout: a hanging InfluxDB
// cannot hold up shutdown (the rest is then abandoned, and Close says so).
// Points given after Close are dropped.
func (w *Writer) Close() error {
	var err error
	w.closeOnce.Do(func() {
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			close(w.stop)
			<-w.pumped
			w.client.Close() // flushes, then closes the errors channel
			<-w.drained
		}()
		select {
		case <-closed:
		case <-time.After(w.opts.CloseTimeout):
			err = fmt.Errorf("influxdb: last flush did not finish within %s; unsent points are lost", w.opts.CloseTimeout)
		}
	})
	return err
}

// rateLog logs a failure at most once per interval, with a count of those
// it held back: InfluxDB being down must not flood the log. Its fast path
// (held back) takes no lock.
type rateLog struct {
	logger *slog.Logger
	every  time.Duration
	msg    string
	next   atomic.Int64 // Unix nanoseconds before which nothing is logged
	held   atomic.Int64
}

func (l *rateLog) log(err error) {
	now := time.Now().UnixNano()
	next := l.next.Load()
	if now < next || !l.next.CompareAndSwap(next, now+int64(l.every)) {
		l.held.Add(1)
		return
	}
	attrs := []any{"suppressed_since_last", l.held.Swap(0)}
	if err != nil {
		attrs = append(attrs, "err", strings.TrimSpace(err.Error()))
	}
	l.logger.Warn(l.msg, attrs...)
}
