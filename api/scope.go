package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/tasks"
)

// Scope: a caller only ever learns of households (and their tasks) they may
// see. Anything else answers 404 exactly as if it did not exist, so its
// existence does not leak either.

func principal(ctx context.Context) Principal {
	p, _ := PrincipalFrom(ctx)
	return p
}

// scopedHousehold loads a household the caller may see.
func (a *API) scopedHousehold(ctx context.Context, id string) (registry.Household, error) {
	notFound := errorf(http.StatusNotFound, codeNotFound, "household %q not found", clip(id))
	h, err := a.opts.Registry.Household(ctx, id)
	if errors.Is(err, registry.ErrNotFound) {
		return registry.Household{}, notFound
	}
	if err != nil {
		return registry.Household{}, fmt.Errorf("load household %s: %w", clip(id), err)
	}
	if !principal(ctx).seesHousehold(h) {
		// Answered as absent, recorded as refused (refusal.go).
		notFound.refusal = refusedOutOfScope
		notFound.detail = fmt.Sprintf("out of scope: household %s is in grid %s", h.ID, h.GridID)
		return registry.Household{}, notFound
	}
	return h, nil
}

// scopedTask loads a task of a household the caller may see.
func (a *API) scopedTask(ctx context.Context, id string) (tasks.Task, error) {
	notFound := errorf(http.StatusNotFound, codeNotFound, "task %q not found", clip(id))
	t, err := a.opts.Tasks.Task(ctx, id)
	if errors.Is(err, registry.ErrNotFound) {
		return tasks.Task{}, notFound
	}
	if err != nil {
		return tasks.Task{}, err
	}
	if _, err := a.scopedHousehold(ctx, t.HouseholdID); err != nil {
		if ae, ok := errors.AsType[*apiError](err); ok && ae.status == http.StatusNotFound {
			return tasks.Task{}, notFound.keepRefusal(ae)
		}
		return tasks.Task{}, err
	}
	return t, nil
}

// gridScope is the task filter of the caller's grids: nil for who sees the
// whole community, the worker's grids (maybe none) for a grid worker.
func gridScope(p Principal) []string {
	if p.Role != registry.RoleGridWorker {
		return nil
	}
	if p.GridIDs == nil {
		return []string{}
	}
	return p.GridIDs
}
