package api

import (
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
}

// deviceResponse is a registered device. Secret is set only when the API
// generated it: this answer is the one time it is ever shown.
type deviceResponse struct {
	ID          string              `json:"id"`
	Kind        registry.DeviceKind `json:"kind"`
	HouseholdID string              `json:"household_id"`
	Secret      string              `json:"secret,omitempty"`
}

func (a *API) createDevice(w http.ResponseWriter, r *http.Request) error {
	var req deviceRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	d := registry.Device{ID: req.ID, Kind: registry.DeviceKind(req.Kind), HouseholdID: req.HouseholdID}
	var secretErr error
	if req.Secret != nil {
		secretErr = registry.ValidateSecret(*req.Secret)
	}
	if err := validation(d.Validate(), secretErr); err != nil {
		return err
	}

	resp := deviceResponse{ID: d.ID, Kind: d.Kind, HouseholdID: d.HouseholdID}
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
	hash, err := registry.HashSecret(secret)
	if err != nil {
		return fmt.Errorf("device %s: %w", d.ID, err)
	}
	d.SecretHash = hash
	if err := a.opts.Registry.CreateDevice(r.Context(), d); err != nil {
		return createError("device", d.ID, err)
	}
	a.opts.Rules.DeviceRegistered(d)
	a.writeJSON(w, r, http.StatusCreated, resp)
	return nil
}
