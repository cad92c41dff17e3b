package rl

import (
	"math"
	"sort"

	"github.com/simshop/simshop/simenv"
)

// standardColors is the fixed colour vocabulary of the features; other colours share one slot.
var standardColors = []string{
	"black", "white", "blue", "red", "green", "grey", "pink", "brown",
	"yellow", "purple", "orange", "beige", "silver", "gold", "multi",
}

// maxCategoryFeatures is the number of categories that get their own one-hot slot; the
// rest of a catalog's categories share one "other" slot.
const maxCategoryFeatures = 10

// Encoding describes how an (observed session, item) pair becomes a feature row. It is
// stored in checkpoints so that a loaded model encodes its inputs as it did in training.
//
// A row is, in order:
//   - the item's category, one-hot over Categories plus an "other" slot;
//   - the item's colour, one-hot over Colors plus an "other" slot;
//   - the item's standardised ln price, rating, ln(1+popularity), ln(rating/price) and
//     ln(1+release age in days);
//   - the session's history with this item: ln(1+times shown), shown at all,
//     ln(1+clicks), bought it;
//   - the item's fit with the session's clicks: the share of clicks in its category, in its
//     colour and on its brand, its standardised ln price minus the mean over clicked items,
//     the click-through rate of its category and of its colour in this session, and
//     ln(1+times its category was shown);
//   - the session: step/MaxSteps, ignored slates in a row/3, clicks per step, any click,
//     ln(1+clicks), and ln of the shopper's visit number (0 on a first visit);
//   - with BrandFeatures, the click-through rate of the item's brand in this session and
//     ln(1+times its brand was shown).
type Encoding struct {
	Categories []string                 `msgpack:"categories"`
	Colors     []string                 `msgpack:"colors"`
	MaxSteps   int                      `msgpack:"max_steps"`
	Mean       [numericFeatures]float64 `msgpack:"mean"` // of ln price, rating, ln(1+popularity), ln(rating/price), ln(1+release age)
	SD         [numericFeatures]float64 `msgpack:"sd"`
	// BrandFeatures adds the brand's exposure in the session, which shows a learner which
	// brands a shopper has already passed over. Checkpoints saved before it existed decode as
	// false and keep their width.
	BrandFeatures bool `msgpack:"brand_features,omitempty"`
}

// Number of features in each group after the one-hot slots.
const (
	numericFeatures = 5
	historyFeatures = 4
	fitFeatures     = 7
	sessionFeatures = 6
	brandFeatures   = 2
)

// NewEncoding fits an encoding to catalog cat: the most common categories (ties broken by
// name) and the standardisation statistics of its items.
func NewEncoding(cat *simenv.Catalog, maxSteps int) Encoding {
	counts := map[string]int{}
	for _, it := range cat.Items {
		counts[it.Category]++
	}
	cats := make([]string, 0, len(counts))
	for c := range counts {
		cats = append(cats, c)
	}
	sort.Slice(cats, func(a, b int) bool {
		if counts[cats[a]] != counts[cats[b]] {
			return counts[cats[a]] > counts[cats[b]]
		}
		return cats[a] < cats[b]
	})
	if len(cats) > maxCategoryFeatures {
		cats = cats[:maxCategoryFeatures]
	}
	enc := Encoding{Categories: cats, Colors: append([]string(nil), standardColors...), MaxSteps: maxSteps}

	n := float64(cat.Len())
	for _, it := range cat.Items {
		for k, v := range rawNumeric(it) {
			enc.Mean[k] += v / n
		}
	}
	for _, it := range cat.Items {
		for k, v := range rawNumeric(it) {
			enc.SD[k] += (v - enc.Mean[k]) * (v - enc.Mean[k]) / n
		}
	}
	for k := range enc.SD {
		enc.SD[k] = math.Sqrt(enc.SD[k])
		if enc.SD[k] == 0 {
			enc.SD[k] = 1
		}
	}
	return enc
}

func rawNumeric(it simenv.Item) [numericFeatures]float64 {
	return [numericFeatures]float64{
		math.Log(it.Price), it.Rating, math.Log1p(it.Popularity), math.Log(it.Rating / it.Price), math.Log1p(it.AgeDays),
	}
}

// Width returns the number of features per row.
func (e Encoding) Width() int {
	w := e.sessionOffset() + sessionFeatures
	if e.BrandFeatures {
		w += brandFeatures
	}
	return w
}

// sessionOffset returns the index of the first session feature in a row.
func (e Encoding) sessionOffset() int {
	return len(e.Categories) + 1 + len(e.Colors) + 1 + numericFeatures + historyFeatures + fitFeatures
}

// Encoder writes feature rows for the sessions of a VecEnv. It precomputes the static part
// of every item's row once, so encoding a session costs O(items × width).
type Encoder struct {
	Encoding Encoding
	catalog  *simenv.Catalog
	width    int
	static   []float32 // [items, width], history, fit and session features zero
	priceZ   []float64 // per item
	catSlot  []int     // per item, index of its category one-hot slot
	colSlot  []int
	history  int // offset of the history features

	// Per-session scratch, sized by the catalog's category, colour and brand counts.
	catClicks   []float64
	colorClicks []float64
	brandClicks []float64
	catShown    []float64
	colorShown  []float64
	catShownLn  []float32 // ln(1 + catShown), per category
	brandShown  []float64
}

// log1pCounts holds float32(ln(1+n)) for the small counts that the history features
// take, so that encoding looks them up instead of calling math.Log1p for every row.
var log1pCounts = func() (t [256]float32) {
	for n := range t {
		t[n] = float32(math.Log1p(float64(n)))
	}
	return t
}()

// log1pCount returns float32(ln(1+n)) for a count n.
func log1pCount(n int32) float32 {
	if n >= 0 && int(n) < len(log1pCounts) {
		return log1pCounts[n]
	}
	return float32(math.Log1p(float64(n)))
}

// NewEncoder prepares enc for catalog cat. The catalog may differ from the one enc was fitted
// on: categories and colours outside the vocabulary fall into the "other" slots.
func NewEncoder(enc Encoding, cat *simenv.Catalog) *Encoder {
	w := enc.Width()
	e := &Encoder{
		Encoding:    enc,
		catalog:     cat,
		width:       w,
		static:      make([]float32, cat.Len()*w),
		priceZ:      make([]float64, cat.Len()),
		catSlot:     make([]int, cat.Len()),
		colSlot:     make([]int, cat.Len()),
		catClicks:   make([]float64, len(cat.Categories)),
		colorClicks: make([]float64, len(cat.Colors)),
		brandClicks: make([]float64, len(cat.Brands)),
		catShown:    make([]float64, len(cat.Categories)),
		colorShown:  make([]float64, len(cat.Colors)),
		catShownLn:  make([]float32, len(cat.Categories)),
		brandShown:  make([]float64, len(cat.Brands)),
	}
	catIndex := map[string]int{}
	for k, c := range enc.Categories {
		catIndex[c] = k
	}
	colIndex := map[string]int{}
	for k, c := range enc.Colors {
		colIndex[c] = k
	}
	colorBase := len(enc.Categories) + 1
	numericBase := colorBase + len(enc.Colors) + 1
	e.history = numericBase + numericFeatures
	for i, it := range cat.Items {
		row := e.static[i*w : (i+1)*w]
		slot, ok := catIndex[it.Category]
		if !ok {
			slot = len(enc.Categories)
		}
		e.catSlot[i] = slot
		row[slot] = 1
		cslot, ok := colIndex[it.Color]
		if !ok {
			cslot = len(enc.Colors)
		}
		e.colSlot[i] = colorBase + cslot
		row[colorBase+cslot] = 1
		for k, v := range rawNumeric(it) {
			z := (v - enc.Mean[k]) / enc.SD[k]
			row[numericBase+k] = float32(z)
			if k == 0 {
				e.priceZ[i] = z
			}
		}
	}
	return e
}

// Width returns the number of features per row.
func (e *Encoder) Width() int { return e.width }

// sessionSummary gathers what session i's clicks revealed, into the encoder's scratch.
type sessionSummary struct {
	clicks     float64
	meanPriceZ float64
	step       float64
	ignoredRun float64
	session    [sessionFeatures]float32 // the session features, the same in every row
}

// SessionView is the observable history of one session that the features read: what a shop
// logs about a visit. ViewSession takes it from a live VecEnv, and a SessionReplay rebuilds
// it from a log of slates and clicks.
type SessionView struct {
	Exposure   []int32 // per item, the slates that showed it to the shopper
	Clicks     []int32 // per item, the shopper's clicks on it
	Purchases  []int32 // per item, the shopper's purchases of it
	Step       int     // slates shown in this session so far
	IgnoredRun int     // slates ignored in a row
	Visit      int     // 1 for a new shopper, one more for each return
}

// ViewSession returns the observable history of session i of env. Its slices alias env's
// counters, so the view changes as env steps.
func ViewSession(env *simenv.VecEnv, i int) SessionView {
	m := env.Catalog.Len()
	return SessionView{
		Exposure:   env.Exposure[i*m : (i+1)*m],
		Clicks:     env.ItemClicks[i*m : (i+1)*m],
		Purchases:  env.ItemPurchases[i*m : (i+1)*m],
		Step:       env.SessionStep(i),
		IgnoredRun: env.IgnoredRun(i),
		Visit:      env.SessionVisit(i),
	}
}

func (e *Encoder) summarize(v *SessionView) sessionSummary {
	clear(e.catClicks)
	clear(e.colorClicks)
	clear(e.brandClicks)
	clear(e.catShown)
	clear(e.colorShown)
	clear(e.brandShown)
	clicks := v.Clicks
	exposure := v.Exposure
	var s sessionSummary
	for item, c := range clicks {
		if x := exposure[item]; x > 0 {
			e.catShown[e.catalog.CategoryOf[item]] += float64(x)
			e.colorShown[e.catalog.ColorOf[item]] += float64(x)
			e.brandShown[e.catalog.BrandOf[item]] += float64(x)
		}
		if c == 0 {
			continue
		}
		fc := float64(c)
		s.clicks += fc
		e.catClicks[e.catalog.CategoryOf[item]] += fc
		e.colorClicks[e.catalog.ColorOf[item]] += fc
		e.brandClicks[e.catalog.BrandOf[item]] += fc
		s.meanPriceZ += fc * e.priceZ[item]
	}
	if s.clicks > 0 {
		s.meanPriceZ /= s.clicks
	}
	s.step = float64(v.Step)
	s.ignoredRun = float64(v.IgnoredRun)
	for c, shown := range e.catShown {
		e.catShownLn[c] = float32(math.Log1p(shown))
	}
	s.session = [sessionFeatures]float32{
		float32(s.step / float64(e.Encoding.MaxSteps)),
		float32(s.ignoredRun / 3),
		float32(s.clicks / math.Max(1, s.step)),
		indicator(s.clicks > 0),
		float32(math.Log1p(s.clicks)),
		float32(math.Log(float64(max(1, v.Visit)))),
	}
	return s
}

// EncodeSession writes the rows of every catalog item for session i of env into dst,
// which must hold items × Width values.
func (e *Encoder) EncodeSession(env *simenv.VecEnv, i int, dst []float32) {
	v := ViewSession(env, i)
	e.EncodeView(&v, dst)
}

// EncodeView writes the rows of every catalog item for the session history v into dst,
// which must hold items × Width values.
func (e *Encoder) EncodeView(v *SessionView, dst []float32) {
	copy(dst, e.static)
	s := e.summarize(v)
	for item := range e.catalog.Items {
		e.fillDynamic(v, item, &s, dst[item*e.width:(item+1)*e.width])
	}
}

// EncodeItems writes the rows of the given items for session i into dst, len(items) × Width.
func (e *Encoder) EncodeItems(env *simenv.VecEnv, i int, items []int32, dst []float32) {
	v := ViewSession(env, i)
	s := e.summarize(&v)
	for k, item := range items {
		row := dst[k*e.width : (k+1)*e.width]
		copy(row, e.static[int(item)*e.width:(int(item)+1)*e.width])
		e.fillDynamic(&v, int(item), &s, row)
	}
}

// fillDynamic writes the history, fit and session features of one row.
func (e *Encoder) fillDynamic(v *SessionView, item int, s *sessionSummary, row []float32) {
	h := row[e.history:]
	exposure := v.Exposure[item]
	h[0] = log1pCount(exposure)
	h[1] = indicator(exposure > 0)
	h[2] = log1pCount(v.Clicks[item])
	h[3] = indicator(v.Purchases[item] > 0)

	f := h[historyFeatures:]
	if s.clicks > 0 {
		f[0] = float32(e.catClicks[e.catalog.CategoryOf[item]] / s.clicks)
		f[1] = float32(e.colorClicks[e.catalog.ColorOf[item]] / s.clicks)
		f[2] = float32(e.brandClicks[e.catalog.BrandOf[item]] / s.clicks)
		f[3] = float32(e.priceZ[item] - s.meanPriceZ)
	} else {
		f[0], f[1], f[2], f[3] = 0, 0, 0, 0
	}
	f[4] = float32(rate(e.catClicks[e.catalog.CategoryOf[item]], e.catShown[e.catalog.CategoryOf[item]]))
	f[5] = float32(rate(e.colorClicks[e.catalog.ColorOf[item]], e.colorShown[e.catalog.ColorOf[item]]))
	f[6] = e.catShownLn[e.catalog.CategoryOf[item]]
	copy(f[fitFeatures:], s.session[:])

	if e.Encoding.BrandFeatures {
		brand := e.catalog.BrandOf[item]
		b := f[fitFeatures+sessionFeatures:]
		b[0] = float32(rate(e.brandClicks[brand], e.brandShown[brand]))
		b[1] = float32(math.Log1p(e.brandShown[brand]))
	}
}

// rate returns clicks/shown, or 0 when nothing was shown.
func rate(clicks, shown float64) float64 {
	if shown == 0 {
		return 0
	}
	return clicks / shown
}

func indicator(b bool) float32 {
	if b {
		return 1
	}
	return 0
}
