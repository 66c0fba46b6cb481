package influx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// DeleteHousehold erases every point tagged with the household (its
// readings and task events), once what was queued before the call has been
// written, so that none of it lands after the deletion. The caller has
// stopped recording the household. InfluxDB 2.x deletes through its delete
// API; 1.8, which has none, through InfluxQL's DROP SERIES.
func (w *Writer) DeleteHousehold(ctx context.Context, householdID string) error {
	barrier := make(chan struct{})
	select {
	case w.queue <- item{barrier: barrier}:
	case <-w.stop:
		return errors.New("influxdb: writer closed")
	case <-ctx.Done():
		return fmt.Errorf("influxdb: erase household %s: %w", householdID, ctx.Err())
	}
	select {
	case <-barrier:
	case <-w.pumped:
	case <-ctx.Done():
		return fmt.Errorf("influxdb: erase household %s: %w", householdID, ctx.Err())
	}
	w.write.Flush()
	err := w.deleteV2(ctx, householdID)
	if errors.Is(err, errNoDeleteAPI) {
		err = w.dropSeriesV1(ctx, householdID)
	}
	if err != nil {
		w.eraseErrors.Inc()
		return fmt.Errorf("influxdb: erase household %s: %w", householdID, err)
	}
	return nil
}

var errNoDeleteAPI = errors.New("no delete API (InfluxDB 1.x)")

// deleteV2 calls InfluxDB 2.x's POST /api/v2/delete over all time.
func (w *Writer) deleteV2(ctx context.Context, householdID string) error {
	body, err := json.Marshal(map[string]string{
		"start":     "1970-01-01T00:00:00Z",
		"stop":      "2262-01-01T00:00:00Z", // the last time InfluxDB can store
		"predicate": fmt.Sprintf("household_id=%q", householdID),
	})
	if err != nil {
		return err
	}
	q := url.Values{"bucket": {w.opts.Bucket}}
	if w.opts.Org != "" {
		q.Set("org", w.opts.Org)
	}
	status, answer, err := w.post(ctx, "/api/v2/delete?"+q.Encode(), "application/json", body)
	switch {
	case err != nil:
		return err
	case status == http.StatusNotFound:
		return errNoDeleteAPI
	case status != http.StatusNoContent && status != http.StatusOK:
		return fmt.Errorf("delete: %d %s", status, answer)
	}
	return nil
}

// dropSeriesV1 runs DROP SERIES on the database of a "database/rp" bucket.
func (w *Writer) dropSeriesV1(ctx context.Context, householdID string) error {
	db, _, _ := strings.Cut(w.opts.Bucket, "/")
	stmt := fmt.Sprintf(`DROP SERIES WHERE "household_id" = '%s'`, strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(householdID))
	form := url.Values{"q": {stmt}}
	status, answer, err := w.post(ctx, "/query?"+url.Values{"db": {db}}.Encode(), "application/x-www-form-urlencoded", []byte(form.Encode()))
	if err != nil {
		return err
	}
	var res struct {
		Error   string `json:"error"`
		Results []struct {
			Error string `json:"error"`
		} `json:"results"`
	}
	if status != http.StatusOK || json.Unmarshal(answer, &res) != nil {
		return fmt.Errorf("drop series: %d %s", status, answer)
	}
	for _, r := range res.Results {
		if r.Error != "" {
			res.Error = r.Error
		}
	}
	if res.Error != "" {
		return fmt.Errorf("drop series: %s", res.Error)
	}
	return nil
}

func (w *Writer) post(ctx context.Context, path, contentType string, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(w.opts.URL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	if w.opts.Token != "" {
		req.Header.Set("Authorization", "Token "+w.opts.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, bytes.TrimSpace(answer), err
}
