package simulator

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/eldersafe/eldersafe/registry"
)

// What `eldersafe demo` sets up before its simulated day, here so that the
// console's browser walk starts from the same monitor and logs in as the
// demo prints.

// DemoLogin is one of the demo's users: its id, the password it was given
// (empty when it was registered already, by an earlier demo on the same
// data directory) and what it is for.
type DemoLogin struct {
	ID, Password, What string
}

// String is the login as the demo prints it.
func (l DemoLogin) String() string {
	password := l.Password
	if password == "" {
		password = "(the one printed when this data directory was new)"
	}
	return fmt.Sprintf("%-14s password %s  (%s)", l.ID, password, l.What)
}

// Demo ids: the operator's log-in and the prefix of the simulated neighbourhood's ids.
const (
	DemoOperator = "demo-operator"
	DemoIDPrefix = "sim-"
)

// SetUpDemo sets the monitor's clock to the start of w's scenario sc (the
// devices registered next are expected from then), registers its
// neighbourhood, then the demo's users (DemoUsers), and returns them.
func SetUpDemo(ctx context.Context, c *Client, w *World, sc *Scenario, log *slog.Logger) ([]DemoLogin, error) {
	if _, err := c.Clock(ctx, w.Start()); err != nil {
		return nil, fmt.Errorf("set the monitor's clock: %w", err)
	}
	n := w.Neighbourhood()
	if err := Provision(ctx, c, n, sc.Seed, 16, log); err != nil {
		return nil, err
	}
	return DemoUsers(ctx, c, n, sc)
}

// DemoUsers registers an operator, the first grid's worker and a family
// member of the household the scenario expects the first task of, each
// with a fresh password, and returns how to log in as each.
func DemoUsers(ctx context.Context, c *Client, n Neighbourhood, sc *Scenario) ([]DemoLogin, error) {
	grids := n.Grids()
	if len(grids) == 0 || len(n.Households) == 0 {
		return nil, nil
	}
	household := n.Households[0].FullID
	if len(sc.Expect) > 0 {
		for _, h := range n.Households {
			if h.ID == sc.Expect[0].Household {
				household = h.FullID
			}
		}
	}
	users := []struct{ id, role, link, what string }{
		{DemoOperator, registry.RoleOperator, "", "operator: the whole neighbourhood"},
		{"demo-worker", registry.RoleGridWorker, grids[0].WorkerID, "grid worker " + grids[0].WorkerID + " of " + grids[0].ID},
		{"demo-family", registry.RoleFamily, household, "family of " + household},
	}
	var logins []DemoLogin
	for _, u := range users {
		password, err := registry.NewSecret()
		if err != nil {
			return nil, err
		}
		body := map[string]string{"id": u.id, "password": password, "role": u.role}
		switch u.role {
		case registry.RoleGridWorker:
			body["worker_id"] = u.link
		case registry.RoleFamily:
			body["household_id"] = u.link
		}
		existed, err := c.CreateUser(ctx, body)
		if err != nil {
			return nil, fmt.Errorf("register demo user %s: %w", u.id, err)
		}
		if existed {
			password = ""
		}
		logins = append(logins, DemoLogin{ID: u.id, Password: password, What: u.what})
	}
	return logins, nil
}
