package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"
)

// provision registers, through the HTTP API, one grid and its worker, and the
// households with their meters and wristbands. Each household's family
// contact is pushed to {push}/family/{household id}, where the monitor
// subcommand's receiver times the fall's notice; the worker's pushes go to
// {push}/worker and are only answered.
func provision(args []string) error {
	fs := flag.NewFlagSet("provision", flag.ExitOnError)
	api := fs.String("api", "", "the monitor's base URL, http://host:port")
	token := fs.String("token", "", "admin token")
	devices := fs.Int("devices", 50, "water meters")
	falls := fs.Int("falls", 20, "wristbands")
	push := fs.String("push", "", "base URL of the push receiver, http://host:port")
	fs.Parse(args)
	if *api == "" || *token == "" || *push == "" {
		return errors.New("-api, -token and -push are required")
	}
	c := apiClient{base: *api + "/api/v1", token: *token, http: &http.Client{Timeout: 10 * time.Second}}

	if err := c.post("/grids", map[string]any{"id": gridID, "name": "Benchmark grid"}); err != nil {
		return err
	}
	if err := c.post("/workers", map[string]any{
		"id": workerID, "name": "Benchmark worker", "phone": "+8613800000000",
		"grid_ids": []string{gridID}, "role": "grid_worker", "push_url": *push + "/worker",
	}); err != nil {
		return err
	}
	for i := range households(*devices, *falls) {
		h := householdID(i)
		if err := c.post("/households", map[string]any{
			"id": h, "name": "Resident " + h, "address": "Building 1, flat " + h, "grid_id": gridID,
			"contacts": []map[string]any{{
				"name": "Family of " + h, "relation": "child", "lang": "en",
				"push_url": *push + "/family/" + h, "channels": []string{"push"},
			}},
		}); err != nil {
			return err
		}
		if i < *devices {
			if err := c.device(meterID(i), "water_meter", h); err != nil {
				return err
			}
		}
		if i < *falls {
			if err := c.device(wristbandID(i), "wristband", h); err != nil {
				return err
			}
		}
	}
	logf("provisioned %d households, %d water meters, %d wristbands", households(*devices, *falls), *devices, *falls)
	return nil
}

type apiClient struct {
	base, token string
	http        *http.Client
}

func (c apiClient) device(id, kind, household string) error {
	return c.post("/devices", map[string]any{"id": id, "kind": kind, "household_id": household, "secret": secret(id)})
}

// post sends body as JSON and wants 201.
func (c apiClient) post(path string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST %s: %s: %s", path, resp.Status, bytes.TrimSpace(answer))
	}
	return nil
}
