package tasks

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/eldersafe/eldersafe/registry"
)

// Command is what the monitor sends a device on
// {prefix}/devices/{id}/command: a check the resident answers on the
// wristband's event stream with {"event":"ok","check_id":...}.
type Command struct {
	Command string `json:"command"`
	CheckID string `json:"check_id"`
	Expires string `json:"expires"`
}

// CommandCheck asks the resident whether all is well.
const CommandCheck = "check"

// checkResident enqueues a check to each of the household's wristbands,
// on the device channel: the outbox keeps and retries it like any notice.
// The check's id is the task's.
func (s *Service) checkResident(ctx context.Context, tx Tx, t Task) error {
	bands, err := tx.Wristbands(ctx, t.HouseholdID)
	if err != nil {
		return fmt.Errorf("list wristbands: %w", err)
	}
	payload, err := json.Marshal(Command{Command: CommandCheck, CheckID: t.ID, Expires: t.VerifyUntil.UTC().Format(time.RFC3339)})
	if err != nil {
		return fmt.Errorf("encode check: %w", err)
	}
	now := s.opts.Wall.Now()
	for _, id := range bands {
		n := Notice{
			ID: uuid.Must(uuid.NewV7()).String(), TaskID: t.ID, Event: NoticeVerifying, HouseholdID: t.HouseholdID,
			Rule: t.Rule, Severity: string(t.Severity), Channel: registry.ChannelDevice, Role: RecipientResident,
			Recipient: id, Address: id, Lang: registry.DefaultLanguage, Title: CommandCheck, Message: string(payload),
			OpenedAt: t.OpenedAt, CreatedAt: now, Status: NoticePending, NextAttemptAt: now,
		}
		if err := tx.Enqueue(ctx, n); err != nil {
			return fmt.Errorf("enqueue check: %w", err)
		}
	}
	return nil
}
