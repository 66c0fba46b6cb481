package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/eldersafe/eldersafe/registry"
)

func TestHouseholds(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)
	must(t, db.CreateGrid(ctx, registry.Grid{ID: "g2", Name: "Grid two"}))
	must(t, db.CreateHousehold(ctx, registry.Household{ID: "h3", Name: "Zhao", Address: "3 Road", GridID: "g2", Timezone: "Asia/Urumqi"}))
	must(t, db.CreateHousehold(ctx, registry.Household{ID: "h2", Name: "Wang", Address: "2 Road", GridID: "g1",
		Contacts: []registry.Contact{{Name: "Son", Relation: "son", Phone: "+8613700000001", Channels: []string{registry.ChannelSMS}}}}))

	ids := func(list []registry.Household) []string {
		out := []string{}
		for _, h := range list {
			out = append(out, h.ID)
		}
		return out
	}
	for _, tt := range []struct {
		name  string
		grids []string
		limit int
		want  []string
	}{
		{"All", nil, 0, []string{"h1", "h2", "h3"}},
		{"Limit", nil, 2, []string{"h1", "h2"}},
		{"OneGrid", []string{"g1"}, 0, []string{"h1", "h2"}},
		{"Grids", []string{"g2", "g1", "g2"}, 0, []string{"h1", "h2", "h3"}},
		{"UnknownGrid", []string{"nowhere"}, 0, []string{}},
		{"NoGrids", []string{}, 0, []string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			list, err := db.Households(ctx, tt.grids, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(list); len(got) != len(tt.want) || !slices.Equal(got, tt.want) {
				t.Fatalf("households = %v, want %v", got, tt.want)
			}
		})
	}

	list, err := db.Households(ctx, []string{"g2"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := registry.Household{ID: "h3", Name: "Zhao", Address: "3 Road", GridID: "g2", Timezone: "Asia/Urumqi"}
	if len(list) != 1 || list[0].ID != want.ID || list[0].Name != want.Name || list[0].Address != want.Address ||
		list[0].GridID != want.GridID || list[0].Timezone != want.Timezone || list[0].Contacts != nil {
		t.Fatalf("listing = %+v, want %+v without contacts", list, want)
	}
}
