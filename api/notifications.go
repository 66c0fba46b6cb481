package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/tasks"
)

func (a *API) notificationRoutes(rt *router) {
	rt.handle("GET /api/v1/tasks/{id}/notifications", a.listNotifications,
		allow(registry.RoleOperator, registry.RoleSupervisor, registry.RoleGridWorker))
}

// notificationView is a notice as the contract shows it: who was told on what
// channel and how delivery went. The address (phone, push URL) and the text
// stay out of it.
type notificationView struct {
	ID string `json:"id"`
	// Event is what the notice told: opened, escalated, handover, resolved, cancelled.
	Event     string     `json:"event"`
	Channel   string     `json:"channel"`
	Recipient string     `json:"recipient"`
	Status    string     `json:"status"`
	Attempts  int        `json:"attempts"`
	LastError string     `json:"last_error,omitempty"`
	SentAt    *time.Time `json:"sent_at,omitempty"`
}

type notificationsResponse struct {
	Notifications []notificationView `json:"notifications"`
}

func (a *API) listNotifications(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	// An unknown task is a 404, not an empty list.
	if _, err := a.scopedTask(r.Context(), id); err != nil {
		return err
	}
	notices, err := a.opts.Notifications.Notifications(r.Context(), id)
	if err != nil {
		return fmt.Errorf("list notifications of task %s: %w", id, err)
	}
	resp := notificationsResponse{Notifications: make([]notificationView, 0, len(notices))}
	for _, n := range notices {
		resp.Notifications = append(resp.Notifications, noticeView(n))
	}
	a.writeJSON(w, r, http.StatusOK, resp)
	return nil
}

func noticeView(n tasks.Notice) notificationView {
	return notificationView{
		ID: n.ID, Event: n.Event, Channel: n.Channel, Recipient: n.Recipient, Status: n.Status,
		Attempts: n.Attempts, LastError: n.LastError, SentAt: n.SentAt,
	}
}
