package api

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"

	"github.com/eldersafe/eldersafe/registry"
)

func (a *API) deviceRoutes(rt *router) {
	rt.handle("POST /api/v1/devices", a.createDevice, allow(registry.RoleOperator))
}

// deviceRequest is the body of POST /api/v1/devices.
type deviceRequest struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	HouseholdID string `json:"household_id"`
	// Secret is the device's MQTT password; generated when absent.
	Secret *string `json:"secret"`
	// Source, SourceTopic and GatewayID register a device that speaks its
	// own format (CONTRACT.md §14); absent: native.
	Source      registry.Source `json:"source"`
	SourceTopic string          `json:"source_topic"`
	GatewayID   string          `json:"gateway_id"`
	// ExpectedEvery is how often the device reports, e.g. "4h"; absent:
	// its kind's interval.
	ExpectedEvery string `json:"expected_every"`
	// Location is where in the home it is, e.g. "kitchen".
	Location string `json:"location"`
}

// deviceResponse is a registered device. Secret is set only when the API
// generated it: this answer is the one time it is ever shown.
type deviceResponse struct {
	ID            string              `json:"id"`
	Kind          registry.DeviceKind `json:"kind"`
	HouseholdID   string              `json:"household_id"`
	Secret        string              `json:"secret,omitempty"`
	Source        registry.Source     `json:"source"`
	SourceTopic   string              `json:"source_topic,omitempty"`
	GatewayID     string              `json:"gateway_id,omitempty"`
	ExpectedEvery string              `json:"expected_every,omitempty"`
	Location      string              `json:"location,omitempty"`
}

func (a *API) createDevice(w http.ResponseWriter, r *http.Request) error {
	var req deviceRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	d := registry.Device{ID: req.ID, Kind: registry.DeviceKind(req.Kind), HouseholdID: req.HouseholdID,
		Source: cmp.Or(req.Source, registry.SourceNative), SourceTopic: req.SourceTopic, GatewayID: req.GatewayID, Location: req.Location}
	var secretErr, everyErr error
	if req.Secret != nil {
		secretErr = registry.ValidateSecret(*req.Secret)
	}
	d.ExpectedEvery, everyErr = registry.ParseEvery(req.ExpectedEvery)
	if err := validation(d.Validate(), secretErr, everyErr); err != nil {
		return err
	}

	resp := deviceResponse{ID: d.ID, Kind: d.Kind, HouseholdID: d.HouseholdID, Source: d.Source, SourceTopic: d.SourceTopic, GatewayID: d.GatewayID,
		ExpectedEvery: registry.FormatEvery(d.ExpectedEvery), Location: d.Location}
	var secret string
	if req.Secret != nil {
		secret = *req.Secret
	} else {
		s, err := registry.NewSecret()
		if err != nil {
			return err
		}
		secret, resp.Secret = s, s
	}
	hash, err := registry.HashDeviceSecret(secret)
	if err != nil {
		return fmt.Errorf("device %s: %w", d.ID, err)
	}
	d.SecretHash = hash
	if err := a.opts.Registry.CreateDevice(r.Context(), d); err != nil {
		if errors.Is(err, registry.ErrTopicTaken) {
			return &apiError{status: http.StatusConflict, code: codeConflict,
				msg: fmt.Sprintf("source_topic %q of %s is another device's", clip(d.SourceTopic), d.Source), err: err}
		}
		return createError("device", d.ID, err)
	}
	a.opts.Rules.DeviceRegistered(d)
	a.writeJSON(w, r, http.StatusCreated, resp)
	return nil
}
