package stack

import (
	"fmt"
	"testing"
)

func TestWeights(t *testing.T) {
	tests := []struct {
		blue       int
		live       Slot
		idle       Slot
		idleOK     bool
		slotName   string
		frozen     bool
		inProgress bool
	}{
		{0, Green, Blue, true, "green-backend", false, false},
		{1, Green, "", false, "green-backend", true, true},
		{10, Green, "", false, "green-backend", true, true},
		{49, Green, "", false, "green-backend", true, true},
		{50, Green, "", false, "green-backend", true, true}, // a tie stays green: a fixed rule
		{51, Blue, "", false, "blue-backend", true, true},
		{99, Blue, "", false, "blue-backend", true, true},
		{100, Blue, Green, true, "blue-backend", false, false},
	}
	for _, tt := range tests {
		w := Weights{Green: 100 - tt.blue, Blue: tt.blue}
		t.Run(w.String(), func(t *testing.T) {
			if got := w.Live(); got != tt.live {
				t.Errorf("Live: got %v, want %v", got, tt.live)
			}
			idle, ok := w.Idle()
			if idle != tt.idle || ok != tt.idleOK {
				t.Errorf("Idle: got %v %v, want %v %v", idle, ok, tt.idle, tt.idleOK)
			}
			if got := w.CurrentSlotName(); got != tt.slotName {
				t.Errorf("CurrentSlotName: got %v, want %v", got, tt.slotName)
			}
			if got := w.SlotNameFrozen(); got != tt.frozen {
				t.Errorf("SlotNameFrozen: got %v, want %v", got, tt.frozen)
			}
			if got := w.InProgress(); got != tt.inProgress {
				t.Errorf("InProgress: got %v, want %v", got, tt.inProgress)
			}
			if w.Of(Green)+w.Of(Blue) != 100 {
				t.Errorf("Of: got %d+%d, want a sum of 100", w.Of(Green), w.Of(Blue))
			}
		})
	}
}

func TestSlots(t *testing.T) {
	for _, s := range []string{"green", "blue"} {
		got, err := ParseSlot(s)
		if err != nil || string(got) != s {
			t.Errorf("ParseSlot(%q): got %v %v, want %s", s, got, err, s)
		}
		if got.Other() == got || got.Other().Other() != got {
			t.Errorf("Other of %s: got %s", got, got.Other())
		}
	}
	if _, err := ParseSlot("red"); err == nil || err.Error() != `"red" is not a slot, want green or blue` {
		t.Errorf("ParseSlot(red): got %v, want an error naming the allowed slots", err)
	}
}

func TestAlwaysReady(t *testing.T) {
	tests := []struct {
		blue                int
		n                   int
		wantGreen, wantBlue int
	}{
		{0, 0, 0, 0},
		{100, 0, 0, 0},
		{50, 0, 0, 0},
		{0, 3, 3, 0},  // steady state on green: only green is paid warm
		{1, 3, 3, 3},  // a release in progress: both serve users
		{50, 3, 3, 3}, // the tie that keeps green live still warms both
		{99, 3, 3, 3},
		{100, 3, 0, 3}, // steady state on blue
		{0, -1, 0, 0},
	}
	for _, tt := range tests {
		w := Weights{Green: 100 - tt.blue, Blue: tt.blue}
		t.Run(fmt.Sprintf("%s n=%d", w, tt.n), func(t *testing.T) {
			if got := w.AlwaysReady(Green, tt.n); got != tt.wantGreen {
				t.Errorf("green: got %d, want %d", got, tt.wantGreen)
			}
			if got := w.AlwaysReady(Blue, tt.n); got != tt.wantBlue {
				t.Errorf("blue: got %d, want %d", got, tt.wantBlue)
			}
		})
	}
}
