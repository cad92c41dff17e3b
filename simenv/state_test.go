package simenv

import (
	"math/rand/v2"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func TestStateRestoresRunExactly(t *testing.T) {
	cat := testCatalog(t, 60)
	cfg := Config{Persona: "cheap_blue:0.3,learning_shopper:0.3,category_fatigue:0.2,budget_buyer:0.2", ReturnProb: 0.5,
		Drift: "favorite_color=red@400"}
	straight, err := NewVecEnv(cat, cfg, 8, 5)
	if err != nil {
		t.Fatal(err)
	}
	runEnv(t, straight, 30, rand.New(rand.NewPCG(1, 1)))
	snapshot, err := straight.State()
	if err != nil {
		t.Fatal(err)
	}
	data, err := msgpack.Marshal(snapshot)
	if err != nil {
		t.Fatal(err)
	}
	var decoded State
	if err := msgpack.Unmarshal(data, &decoded); err != nil {
		t.Fatal(err)
	}
	resumed, err := NewVecEnv(cat, cfg, 8, 99) // another seed: every stream comes from the state
	if err != nil {
		t.Fatal(err)
	}
	if err := resumed.SetState(decoded); err != nil {
		t.Fatal(err)
	}
	rest := rand.New(rand.NewPCG(2, 2))
	want := runEnv(t, straight, 60, rest)
	rest = rand.New(rand.NewPCG(2, 2))
	got := runEnv(t, resumed, 60, rest)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("resumed run diverges at entry %d: %g, want %g", i, got[i], want[i])
		}
	}
}

func TestSetStateRejectsMismatch(t *testing.T) {
	cat := testCatalog(t, 30)
	a, _ := NewVecEnv(cat, Config{Persona: CheapBlue}, 4, 1)
	b, _ := NewVecEnv(cat, Config{Persona: CheapBlue}, 5, 1)
	s, err := a.State()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.SetState(s); err == nil {
		t.Error("SetState accepted a state of 4 sessions into an env of 5")
	}
}
