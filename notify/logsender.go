package notify

import (
	"context"
	"log/slog"

	"github.com/eldersafe/eldersafe/tasks"
)

// Log "delivers" a notice by writing it to the log at info level: the channel
// for development, and for recipients with no other way to be reached. It never fails.
type Log struct {
	// Logger receives the notices; nil means slog.Default().
	Logger *slog.Logger
}

// Send logs n.
func (l Log) Send(ctx context.Context, n tasks.Notice) (bool, error) {
	logger := l.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "notice",
		slog.String("notice_id", n.ID),
		slog.String("task_id", n.TaskID),
		slog.String("household_id", n.HouseholdID),
		slog.String("rule", n.Rule),
		slog.String("severity", n.Severity),
		slog.String("recipient", n.Recipient),
		slog.String("role", n.Role),
		slog.String("lang", n.Lang),
		slog.String("title", n.Title),
		slog.String("message", n.Message),
	)
	return false, nil
}
