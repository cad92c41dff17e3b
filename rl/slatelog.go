package rl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/simenv"
)

// A slate log records what a shop observed while a logging policy chose its slates: per
// session, the slates shown, the probability with which the policy picked each item, the
// click and purchase, and the reward. It is a msgpack map with the fields of SlateLog; see
// docs/logged-data.md. The steps are stored column by column, one flat array per field
// over all sessions, so that a decoder allocates at most 8 bytes per byte of the file.
const (
	SlateLogMagic   = checkpoints.SlateLogMagic
	SlateLogVersion = 1

	// maxSlateLogSize bounds what ReadSlateLog reads into memory.
	maxSlateLogSize = 1 << 30

	// MaxSlateLogElements bounds the declared array elements that ReadSlateLog accepts,
	// about 3 million steps of slates of 3 (9 elements a step). Decoded, they take at most
	// 8 bytes each.
	MaxSlateLogElements = 1 << 25
)

// MaxLogSessions returns the largest number of sessions, in a shop with slates of
// slateSize items and sessions of at most maxSteps slates, whose log ReadSlateLog reads
// whatever the sessions' lengths. A session adds one length and, per slate, 2·slateSize
// elements (items and propensities) and 3 (click, purchase, reward). It returns 0 when
// even one session of maxSteps slates could exceed the limit.
func MaxLogSessions(slateSize, maxSteps int) int {
	perSession := 1 + int64(maxSteps)*(2*int64(slateSize)+3)
	return int(MaxSlateLogElements / perSession)
}

// SlateLog is a log of complete sessions that a logging policy played.
type SlateLog struct {
	Magic   string `msgpack:"magic"`
	Version int    `msgpack:"version"`
	Created string `msgpack:"created"` // RFC 3339, UTC

	// Catalog identifies the catalog the item indices refer to.
	Catalog LogCatalog `msgpack:"catalog"`
	// Shop is the simulated shop, with defaults filled in. Drift and returning shoppers
	// are absent: every item was available and every session had a new shopper.
	Shop   simenv.Config     `msgpack:"shop"`
	Policy LoggingPolicyInfo `msgpack:"policy"`
	Seed   uint64            `msgpack:"seed"` // session e was seeded from LogEpisodeSeed(Seed, e)

	// Lengths holds the number of slates of each session. The arrays below hold one entry
	// per slate (Clicks, Purchases, Rewards) or per slate position (Slates, Propensities),
	// session after session.
	Lengths      []int32   `msgpack:"lengths"`
	Slates       []int32   `msgpack:"slates"`       // item index of each slate position
	Propensities []float64 `msgpack:"propensities"` // β(a|s) of each slate position, or empty when unknown; see LoggingPolicy
	Clicks       []int32   `msgpack:"clicks"`       // slate position clicked, or -1
	Purchases    []bool    `msgpack:"purchases"`    // whether the clicked item was bought
	Rewards      []float64 `msgpack:"rewards"`      // reward of the slate

	starts []int // index of each session's first slate, set by Validate
}

// LogCatalog identifies a catalog by its fingerprint, the hex SHA-256 of its canonical CSV.
type LogCatalog struct {
	Source      string `msgpack:"source"`
	Items       int    `msgpack:"items"`
	Fingerprint string `msgpack:"fingerprint"`
}

// LoggingPolicyInfo describes the policy that chose a log's slates.
type LoggingPolicyInfo struct {
	Base        string  `msgpack:"base"` // popularity, random, or a checkpoint's path
	Temperature float64 `msgpack:"temperature"`
	Epsilon     float64 `msgpack:"epsilon"`
}

// NumSessions returns the number of sessions in the log.
func (l *SlateLog) NumSessions() int { return len(l.Lengths) }

// NumSteps returns the number of slates in the log.
func (l *SlateLog) NumSteps() int { return len(l.Clicks) }

// HasPropensities reports whether the log records the logging policy's propensities.
func (l *SlateLog) HasPropensities() bool { return len(l.Propensities) > 0 }

// LoggedSession is one session of a log, as slices into the log's arrays.
type LoggedSession struct {
	Slates       []int32   // steps × K
	Propensities []float64 // steps × K, or nil when the log has none
	Clicks       []int32
	Purchases    []bool
	Rewards      []float64
}

// Session returns session s of a validated log.
func (l *SlateLog) Session(s int) LoggedSession {
	k := l.Shop.SlateSize
	from, to := l.starts[s], l.starts[s]+int(l.Lengths[s])
	session := LoggedSession{
		Slates:    l.Slates[from*k : to*k],
		Clicks:    l.Clicks[from:to],
		Purchases: l.Purchases[from:to],
		Rewards:   l.Rewards[from:to],
	}
	if l.HasPropensities() {
		session.Propensities = l.Propensities[from*k : to*k]
	}
	return session
}

// append adds one session to the log.
func (l *SlateLog) append(s LoggedSession) {
	l.Lengths = append(l.Lengths, int32(len(s.Clicks)))
	l.Slates = append(l.Slates, s.Slates...)
	l.Propensities = append(l.Propensities, s.Propensities...)
	l.Clicks = append(l.Clicks, s.Clicks...)
	l.Purchases = append(l.Purchases, s.Purchases...)
	l.Rewards = append(l.Rewards, s.Rewards...)
}

// CheckCatalog returns an error unless cat is the catalog the log was recorded on.
func (l *SlateLog) CheckCatalog(cat *simenv.Catalog) error {
	if got := cat.Fingerprint(); got != l.Catalog.Fingerprint {
		return fmt.Errorf("rl: the log was recorded on catalog %s (%d items, fingerprint %.12s), but the catalog given is %s (%d items, fingerprint %.12s); "+
			"pass the catalog flags (--catalog, or --items and --catalog-seed) that the log command used",
			l.Catalog.Source, l.Catalog.Items, l.Catalog.Fingerprint, cat.Source, cat.Len(), got)
	}
	return nil
}

// Validate checks that the log is consistent with itself and with catalog cat, and
// prepares Session. Errors name the first invalid session or slate.
func (l *SlateLog) Validate(cat *simenv.Catalog) error {
	if err := l.CheckCatalog(cat); err != nil {
		return err
	}
	shop := l.Shop
	if shop.SlateSize < 1 || shop.MaxSteps < 1 {
		return fmt.Errorf("rl: the log's shop has slate size %d and %d steps at most; both must be at least 1", shop.SlateSize, shop.MaxSteps)
	}
	if err := shop.Validate(cat); err != nil {
		return fmt.Errorf("rl: the log's shop is invalid: %w", err)
	}
	if shop.Drift != "" || shop.ReturnProb != 0 {
		return fmt.Errorf("rl: the log's shop has drift %q and return probability %g; logs support neither", shop.Drift, shop.ReturnProb)
	}
	if len(l.Lengths) == 0 {
		return fmt.Errorf("rl: the log contains no sessions")
	}

	k, m := shop.SlateSize, int32(cat.Len())
	steps := 0
	for s, n := range l.Lengths {
		if n < 1 || int(n) > shop.MaxSteps {
			return fmt.Errorf("rl: logged session %d has %d slates; a session has 1 to %d", s, n, shop.MaxSteps)
		}
		steps += int(n)
	}
	if len(l.Clicks) != steps || len(l.Purchases) != steps || len(l.Rewards) != steps ||
		len(l.Slates) != steps*k || (l.HasPropensities() && len(l.Propensities) != steps*k) {
		return fmt.Errorf("rl: the log is corrupted: its sessions have %d slates in total, but it contains %d clicks, %d purchases, %d rewards, "+
			"%d slate items and %d propensities (want %d slate items, and as many propensities or none, for slates of %d)",
			steps, len(l.Clicks), len(l.Purchases), len(l.Rewards), len(l.Slates), len(l.Propensities), steps*k, k)
	}
	l.starts = make([]int, len(l.Lengths))
	t := 0
	for s, n := range l.Lengths {
		l.starts[s] = t
		for step := range int(n) {
			if err := l.checkSlate(t+step, k, m); err != nil {
				return fmt.Errorf("rl: logged session %d, slate %d: %w", s, step, err)
			}
		}
		t += int(n)
	}
	return nil
}

// checkSlate returns an error if slate t, of k items from a catalog of m items, shows an
// item twice or outside the catalog, or has an invalid propensity, click or reward.
func (l *SlateLog) checkSlate(t, k int, m int32) error {
	if err := slateError(l.Slates[t*k:(t+1)*k], m); err != nil {
		return err
	}
	if l.HasPropensities() {
		for a, p := range l.Propensities[t*k : (t+1)*k] {
			if !(p > 0 && p <= 1) {
				return fmt.Errorf("position %d: propensity %v is invalid; it must be in (0, 1]", a, p)
			}
		}
	}
	if c := l.Clicks[t]; c < -1 || c >= int32(k) {
		return fmt.Errorf("click position %d is invalid; use -1 for no click or 0 to %d", c, k-1)
	}
	if l.Purchases[t] && l.Clicks[t] < 0 {
		return fmt.Errorf("a purchase without a click is invalid")
	}
	if r := l.Rewards[t]; math.IsNaN(r) || math.IsInf(r, 0) {
		return fmt.Errorf("reward %v is invalid; it must be a finite number", r)
	}
	return nil
}

// slateError returns an error if slate shows an item outside a catalog of m items or an
// item twice.
func slateError(slate []int32, m int32) error {
	for a, item := range slate {
		if item < 0 || item >= m {
			return fmt.Errorf("item %d is outside the catalog of %d items", item, m)
		}
		if contains(slate[:a], item) {
			return fmt.Errorf("item %d is shown twice", item)
		}
	}
	return nil
}

// WriteSlateLog writes l to path atomically with checkpoints.WriteFileAtomic, replacing
// any file at path. Callers that must keep an existing file check for it first.
func WriteSlateLog(path string, l *SlateLog) error {
	data, err := msgpack.Marshal(l)
	if err != nil {
		return fmt.Errorf("rl: encode slate log %s: %w", path, err)
	}
	if err := checkpoints.WriteFileAtomic(path, data); err != nil {
		return fmt.Errorf("rl: write slate log: %w", err)
	}
	return nil
}

// ReadSlateLog reads the log at path and validates it against catalog cat.
func ReadSlateLog(path string, cat *simenv.Catalog) (*SlateLog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rl: open slate log: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSlateLogSize+1))
	if err != nil {
		return nil, fmt.Errorf("rl: read slate log %s: %w", path, err)
	}
	if len(data) > maxSlateLogSize {
		return nil, fmt.Errorf("rl: slate log %s is larger than %d bytes; record fewer sessions per log", path, maxSlateLogSize)
	}
	l, err := DecodeSlateLog(data)
	if errors.Is(err, errCheckpointNotLog) {
		return nil, fmt.Errorf("rl: %s is a checkpoint, not a slate log; evaluate it with eval --model %s, or record a slate log with simshop-train log",
			path, path)
	}
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	if err := l.Validate(cat); err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return l, nil
}

// errNotSlateLog is the error of data that is not a slate log at all.
var errNotSlateLog = errors.New("rl: the file is not a SimShop slate log; record one with simshop-train log")

// errCheckpointNotLog is the error of a checkpoint read as a slate log.
var errCheckpointNotLog = errors.New("rl: the file is a SimShop checkpoint, not a slate log")

// DecodeSlateLog decodes a slate log from data without validating its content. It checks
// the msgpack structure before decoding, so that corrupt lengths cost no allocation, and
// then the magic and version.
func DecodeSlateLog(data []byte) (*SlateLog, error) {
	if err := checkpoints.CheckMsgpack(data, MaxSlateLogElements); err != nil {
		if len(data) == 0 || data[0]&0xf0 != 0x80 && data[0] != 0xde && data[0] != 0xdf {
			return nil, errNotSlateLog
		}
		return nil, fmt.Errorf("rl: the slate log is truncated or corrupted: %v", err)
	}
	var header struct {
		Magic   string `msgpack:"magic"`
		Version int    `msgpack:"version"`
	}
	if err := msgpack.Unmarshal(data, &header); err != nil {
		return nil, errNotSlateLog
	}
	if header.Magic == checkpoints.Magic {
		return nil, errCheckpointNotLog
	}
	if header.Magic != SlateLogMagic {
		return nil, errNotSlateLog
	}
	if header.Version != SlateLogVersion {
		return nil, fmt.Errorf("rl: the slate log has format version %d, but this build reads version %d; record the log again with this build",
			header.Version, SlateLogVersion)
	}
	dec := msgpack.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields(true)
	l := new(SlateLog)
	if err := dec.Decode(l); err != nil {
		return nil, fmt.Errorf("rl: the slate log is corrupted: %v", err)
	}
	return l, nil
}
