package rl

import (
	"context"
	"testing"

	"github.com/simshop/simshop/replay"
	"github.com/simshop/simshop/simenv"
)

// TestCompactRowsRebuildEncodedRows packs every item's encoded row of a session that has
// clicks and checks that unpacking gives the same row back, value for value.
func TestCompactRowsRebuildEncodedRows(t *testing.T) {
	cat := generated(t, 40)
	shop := simenv.Config{Persona: simenv.CheapBlue}
	d, err := NewDQN(DefaultDQNConfig(), cat, shop, 1)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := simenv.NewVecEnv(cat, shop, 1, 1)
	env.ItemClicks[5], env.Exposure[5], env.Exposure[9] = 1, 2, 1
	rows := make([]float32, cat.Len()*d.width)
	d.encoder.EncodeSession(env, 0, rows)
	packed := make([]float32, d.rowSize)
	got := make([]float32, d.width)
	for item := 0; item < cat.Len(); item++ {
		want := rows[item*d.width : (item+1)*d.width]
		d.packRow(packed, int32(item), want)
		d.unpackRow(got, packed)
		compareTensors(t, "rebuilt row", want, got)
	}
	if d.rowSize >= d.width {
		t.Errorf("a compact row holds %d values, a full row %d", d.rowSize, d.width)
	}
}

// TestCompactReplayTrainsAsFullRows trains one agent with compact stored rows and one with
// the full rows of earlier versions from the same seed, and checks that they end with the
// same weights, bit for bit: the compact layout loses nothing.
func TestCompactReplayTrainsAsFullRows(t *testing.T) {
	cat := generated(t, 40)
	shop := simenv.Config{Persona: simenv.ValueSeeker}
	train := func(full bool) *DQN {
		d, err := NewDQN(smallConfig(), cat, shop, 8)
		if err != nil {
			t.Fatal(err)
		}
		if full && !d.useLayout(d.recordWidthFor(d.width)) {
			t.Fatal("the full-row layout was not accepted")
		}
		env, _ := simenv.NewVecEnv(cat, shop, 8, TrainSeed(8, 0))
		if err := d.Train(context.Background(), env, TrainOptions{Steps: 800}); err != nil {
			t.Fatal(err)
		}
		return d
	}
	compact, full := train(false), train(true)
	if compact.RecordWidth() >= full.RecordWidth() {
		t.Errorf("compact records have %d values, full ones %d", compact.RecordWidth(), full.RecordWidth())
	}
	if compact.Updates == 0 {
		t.Fatal("no update ran")
	}
	for i, pt := range compact.Online.Tensors {
		compareTensors(t, pt.Name, pt.Data, full.Online.Tensors[i].Data)
	}
}

// TestReplayOfAMillionFitsInOneGiB checks the size of a million-transition replay buffer
// at the default configuration on catalogs of 200 and 1,338 items, without allocating it.
// BenchmarkReplayMemory measures the allocated buffer.
func TestReplayOfAMillionFitsInOneGiB(t *testing.T) {
	for _, items := range []int{200, 1338} {
		cat := generated(t, items)
		d, err := NewDQN(DefaultDQNConfig(), cat, simenv.Config{Persona: simenv.CheapBlue}, 1)
		if err != nil {
			t.Fatal(err)
		}
		bytes := replay.BytesFor(1_000_000, d.RecordWidth())
		t.Logf("%d items: %d values, %d bytes per transition", items, d.RecordWidth(), bytes/1_000_000)
		if bytes > 1<<30 {
			t.Errorf("%d items: a million transitions take %d bytes, more than 1 GiB", items, bytes)
		}
	}
}

// TestResumeFromFullRowCheckpoint resumes runs whose checkpoints hold the full feature rows
// of earlier versions, with and without the replay buffer, and checks that they end where
// a straight run with compact rows ends.
func TestResumeFromFullRowCheckpoint(t *testing.T) {
	cat := generated(t, 40)
	shop := simenv.Config{Persona: simenv.ExposureBuyer}
	straight := trainSmall(t, cat, shop, 3, 1000)
	for _, saveReplay := range []bool{true, false} {
		resumed := resumeAtLayout(t, smallConfig(), cat, shop, 3, 608, 1000, saveReplay, true)
		if resumed.rowSize != resumed.width {
			t.Errorf("replay saved %v: the resumed run stores rows of %d values, want the full %d", saveReplay, resumed.rowSize, resumed.width)
		}
		if !saveReplay {
			continue // without the buffer the run refills it and diverges, as for compact rows
		}
		for i, pt := range straight.Online.Tensors {
			compareTensors(t, pt.Name, pt.Data, resumed.Online.Tensors[i].Data)
		}
	}
}
