package replay

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestBufferOverwritesOldest(t *testing.T) {
	b, err := New(3, 2)
	if err != nil {
		t.Fatal(err)
	}
	for v := 0; v < 5; v++ {
		b.Add([]float32{float32(v), float32(-v)}, v == 4)
	}
	if b.Len() != 3 {
		t.Fatalf("Len = %d, want 3", b.Len())
	}
	// Values 0 and 1 were overwritten by 3 and 4 at indices 0 and 1; index 2 keeps value 2.
	want := []float32{3, 4, 2}
	for i, w := range want {
		if got := b.Record(i)[0]; got != w {
			t.Errorf("Record(%d)[0] = %g, want %g", i, got, w)
		}
	}
	if !b.Terminal(1) || b.Terminal(0) {
		t.Errorf("terminal flags = %v %v, want false true", b.Terminal(0), b.Terminal(1))
	}
	if b.Cursor() != 2 {
		t.Errorf("Cursor = %d, want 2", b.Cursor())
	}
}

func TestSampleUniform(t *testing.T) {
	const capacity, draws = 8, 80000
	b, _ := New(capacity, 1)
	for i := 0; i < capacity; i++ {
		b.Add([]float32{float32(i)}, false)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	idx := make([]int, draws)
	b.Sample(rng, idx)
	counts := make([]float64, capacity)
	for _, i := range idx {
		counts[i]++
	}
	// Chi-squared test with 7 degrees of freedom; 24.32 is the 0.999 quantile.
	expected := float64(draws) / capacity
	chi2 := 0.0
	for _, c := range counts {
		chi2 += (c - expected) * (c - expected) / expected
	}
	if chi2 > 24.32 || math.IsNaN(chi2) {
		t.Errorf("chi-squared %.2f over 7 degrees of freedom rejects uniform sampling; counts %v", chi2, counts)
	}
}

func TestSampleOnlyStored(t *testing.T) {
	b, _ := New(100, 1)
	b.Add([]float32{1}, false)
	b.Add([]float32{2}, false)
	idx := make([]int, 1000)
	b.Sample(rand.New(rand.NewPCG(2, 2)), idx)
	for _, i := range idx {
		if i >= 2 {
			t.Fatalf("sampled index %d, but only 2 transitions are stored", i)
		}
	}
}

func TestNewRejectsBadSizes(t *testing.T) {
	if _, err := New(0, 4); err == nil {
		t.Error("New(0, 4) = nil error, want an error")
	}
	if _, err := New(4, 0); err == nil {
		t.Error("New(4, 0) = nil error, want an error")
	}
}

func TestAddAndSampleAllocateNothing(t *testing.T) {
	b, _ := New(64, 16)
	rec := make([]float32, 16)
	rng := rand.New(rand.NewPCG(3, 3))
	idx := make([]int, 32)
	b.Add(rec, false)
	allocs := testing.AllocsPerRun(100, func() {
		b.Add(rec, false)
		b.Sample(rng, idx)
	})
	if allocs != 0 {
		t.Errorf("Add and Sample allocate %.1f times per call, want 0", allocs)
	}
}
