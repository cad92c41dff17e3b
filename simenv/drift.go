package simenv

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Drift changes the shop while a VecEnv runs: shoppers' favourites, prices and which items
// are available. A schedule lists changes, each at a shopper-step of the VecEnv's clock
// (see VecEnv.Clock). docs/simulator.md describes the syntax and the effect of each change.

// Names of drift changes.
const (
	// DriftFavoriteColor sets the favourite colour: the colour whose items get cheap_blue's
	// colour weight (blue at first), and the favourite colour of every brand_lover shopper.
	DriftFavoriteColor = "favorite_color"
	// DriftFavoriteCategory sets the favourite category of every shopper of exposure_buyer,
	// category_fatigue and learning_shopper.
	DriftFavoriteCategory = "favorite_category"
	// DriftPrice multiplies the prices of a category's items by a factor.
	DriftPrice = "price"
	// DriftAdd makes items available that were unavailable until the change.
	DriftAdd = "add"
	// DriftRemove makes items unavailable.
	DriftRemove = "remove"
	// DriftAddCategory and DriftRemoveCategory add or remove every item of a category.
	DriftAddCategory    = "add_category"
	DriftRemoveCategory = "remove_category"
)

// DriftNames lists the drift changes.
var DriftNames = []string{
	DriftFavoriteColor, DriftFavoriteCategory, DriftPrice,
	DriftAdd, DriftRemove, DriftAddCategory, DriftRemoveCategory,
}

// Personas that a favourite change applies to when it names no persona.
var (
	colorPersonas    = []string{CheapBlue, BrandLover}
	categoryPersonas = []string{ExposureBuyer, CategoryFatigue, LearningShopper}
)

// driftExample is the form that drift error messages suggest.
const driftExample = "favorite_color=red@30000,price=Dresses*0.8@50000"

// DriftChange is one scheduled change of the shop.
type DriftChange struct {
	Step int64  // shopper-step of the VecEnv's clock at which the change is due, >= 0
	Name string // one of DriftNames

	// Persona limits a favourite change to one persona; empty means every persona that has
	// such a favourite.
	Persona string
	// Value is the colour of favorite_color, or the category of favorite_category, price,
	// add_category and remove_category.
	Value string
	// Items are the item IDs of add and remove.
	Items []string
	// Factor multiplies the prices of a price change; finite and above 0.
	Factor float64
}

// String returns the change in the form ParseDrift reads.
func (d DriftChange) String() string {
	var b strings.Builder
	if d.Persona != "" {
		b.WriteString(d.Persona + ".")
	}
	b.WriteString(d.Name + "=")
	switch d.Name {
	case DriftAdd, DriftRemove:
		b.WriteString(strings.Join(d.Items, "+"))
	case DriftPrice:
		b.WriteString(d.Value + "*" + strconv.FormatFloat(d.Factor, 'g', -1, 64))
	default:
		b.WriteString(d.Value)
	}
	b.WriteString("@" + strconv.FormatInt(d.Step, 10))
	return b.String()
}

// FormatDrift returns the changes in the form ParseDrift reads.
func FormatDrift(changes []DriftChange) string {
	entries := make([]string, len(changes))
	for k, d := range changes {
		entries[k] = d.String()
	}
	return strings.Join(entries, ",")
}

// ParseDrift parses a drift schedule: comma-separated entries CHANGE@STEP, where STEP is a
// shopper-step (a whole number >= 0) and CHANGE is one of
//
//	[PERSONA.]favorite_color=COLOR
//	[PERSONA.]favorite_category=CATEGORY
//	price=CATEGORY*FACTOR
//	add=ITEM_ID[+ITEM_ID...]
//	remove=ITEM_ID[+ITEM_ID...]
//	add_category=CATEGORY
//	remove_category=CATEGORY
//
// such as "favorite_color=red@30000,price=Dresses*0.8@50000". Spaces around entries and
// their parts are ignored. The empty string is the empty schedule. ParseDrift checks the
// syntax, the names, the personas, the steps and the factors; VecEnv checks the colours,
// categories and item IDs against its catalog. The changes are returned in the order given.
func ParseDrift(schedule string) ([]DriftChange, error) {
	if strings.TrimSpace(schedule) == "" {
		return nil, nil
	}
	var changes []DriftChange
	for k, entry := range strings.Split(schedule, ",") {
		d, err := parseDriftEntry(strings.TrimSpace(entry))
		if err != nil {
			return nil, fmt.Errorf("simenv: drift %q: entry %d: %w", schedule, k+1, err)
		}
		changes = append(changes, d)
	}
	return changes, nil
}

// parseDriftEntry parses one CHANGE@STEP entry.
func parseDriftEntry(entry string) (DriftChange, error) {
	if entry == "" {
		return DriftChange{}, fmt.Errorf("entry is empty; separate CHANGE@STEP entries by single commas, such as %s", driftExample)
	}

	// The step follows the last @.
	at := strings.LastIndex(entry, "@")
	if at < 0 {
		return DriftChange{}, fmt.Errorf("%q has no @STEP; write each entry as CHANGE@STEP, such as favorite_color=red@30000", entry)
	}
	change, stepText := strings.TrimSpace(entry[:at]), strings.TrimSpace(entry[at+1:])
	step, err := strconv.ParseInt(stepText, 10, 64)
	if err != nil {
		return DriftChange{}, fmt.Errorf("%q: step %q is not a whole number; give the shopper-step at which the change is due, such as @30000", entry, stepText)
	}
	if step < 0 {
		return DriftChange{}, fmt.Errorf("%q: step %d is negative; schedule changes at shopper-step 0 or later", entry, step)
	}

	// The change is NAME=VALUE, with an optional PERSONA. before a favourite's name.
	name, value, found := strings.Cut(change, "=")
	if !found {
		return DriftChange{}, fmt.Errorf("%q has no =; write the change as NAME=VALUE, such as favorite_color=red or price=Dresses*0.8", entry)
	}
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	d := DriftChange{Step: step, Name: name}
	if persona, rest, scoped := strings.Cut(name, "."); scoped {
		d.Persona, d.Name = strings.TrimSpace(persona), strings.TrimSpace(rest)
	}
	if !slices.Contains(DriftNames, d.Name) {
		return DriftChange{}, fmt.Errorf("%q: unknown change %q; valid changes: %s", entry, d.Name, strings.Join(DriftNames, ", "))
	}
	if d.Persona != "" {
		if err := checkDriftPersona(d.Name, d.Persona); err != nil {
			return DriftChange{}, fmt.Errorf("%q: %w", entry, err)
		}
	}
	if value == "" {
		return DriftChange{}, fmt.Errorf("%q: the value after = is empty; give a %s", entry, driftValueHint(d.Name))
	}

	// Read the value.
	switch d.Name {
	case DriftAdd, DriftRemove:
		for _, id := range strings.Split(value, "+") {
			id = strings.TrimSpace(id)
			if id == "" {
				return DriftChange{}, fmt.Errorf("%q: an item ID is empty; join item IDs by single + signs, such as remove=item12+item40", entry)
			}
			d.Items = append(d.Items, id)
		}
	case DriftPrice:
		star := strings.LastIndex(value, "*")
		if star < 0 {
			return DriftChange{}, fmt.Errorf("%q: price change %q has no *FACTOR; write it as price=CATEGORY*FACTOR, such as price=Dresses*0.8", entry, value)
		}
		d.Value = strings.TrimSpace(value[:star])
		factorText := strings.TrimSpace(value[star+1:])
		if d.Value == "" {
			return DriftChange{}, fmt.Errorf("%q: price change %q has no category; write it as price=CATEGORY*FACTOR, such as price=Dresses*0.8", entry, value)
		}
		factor, err := strconv.ParseFloat(factorText, 64)
		if err != nil {
			return DriftChange{}, fmt.Errorf("%q: price factor %q is not a number; use a number above 0, such as 0.8 for 20 %% off", entry, factorText)
		}
		if math.IsNaN(factor) || math.IsInf(factor, 0) || factor <= 0 {
			return DriftChange{}, fmt.Errorf("%q: price factor %v is invalid; use a finite number above 0, such as 0.8 for 20 %% off", entry, factor)
		}
		d.Factor = factor
	default:
		d.Value = value
	}
	return d, nil
}

// checkDriftPersona returns an error unless persona is a persona that has the favourite
// that the change name sets.
func checkDriftPersona(name, persona string) error {
	var owners []string
	switch name {
	case DriftFavoriteColor:
		owners = colorPersonas
	case DriftFavoriteCategory:
		owners = categoryPersonas
	default:
		return fmt.Errorf("change %s applies to the whole shop and takes no persona; remove %q", name, persona+".")
	}
	if err := CheckPersona(persona); err != nil {
		return err
	}
	if !slices.Contains(owners, persona) {
		return fmt.Errorf("persona %s has no favourite that %s sets; it applies to %s", persona, name, strings.Join(owners, ", "))
	}
	return nil
}

// driftValueHint describes the value that the change name takes.
func driftValueHint(name string) string {
	switch name {
	case DriftFavoriteColor:
		return "colour of the catalog, such as favorite_color=red"
	case DriftPrice:
		return "category and factor, such as price=Dresses*0.8"
	case DriftAdd, DriftRemove:
		return "list of item IDs joined by +, such as " + name + "=item12+item40"
	}
	return "category of the catalog, such as " + name + "=Dresses"
}

// DriftEffectiveStep returns the clock reading at which a change due at shopper-step step
// takes effect in a VecEnv of the given number of sessions. The clock advances by the
// number of sessions per Step call, so that reading is the first multiple of sessions at or
// after step.
func DriftEffectiveStep(step int64, sessions int) int64 {
	n := int64(sessions)
	return (step + n - 1) / n * n
}

// CheckDrift parses schedule and checks that every change takes effect during a run of
// totalSteps shopper-steps of a VecEnv of the given number of sessions, which steps while
// its clock is below totalSteps. It returns an error naming the first change that would
// take effect at totalSteps or later, and so never. It does not check names against a
// catalog; Config.Validate does.
func CheckDrift(schedule string, totalSteps int64, sessions int) error {
	changes, err := ParseDrift(schedule)
	if err != nil {
		return err
	}
	if sessions < 1 {
		return fmt.Errorf("simenv: %d parallel sessions is invalid; use at least 1", sessions)
	}
	for _, d := range changes {
		at := DriftEffectiveStep(d.Step, sessions)
		if at < totalSteps {
			continue
		}
		if at == d.Step {
			return fmt.Errorf("simenv: drift %s is due at shopper-step %d, not before the end of the run at %d shopper-steps; schedule it earlier or run longer",
				d, d.Step, totalSteps)
		}
		return fmt.Errorf("simenv: drift %s takes effect at shopper-step %d, the first multiple of the %d sessions at or after its step %d, which is not before the end of the run at %d shopper-steps; schedule it earlier or run longer",
			d, at, sessions, d.Step, totalSteps)
	}
	return nil
}

// FreezeDrift returns a schedule that puts a VecEnv on catalog cat, from its start and for
// good, in the shop that schedule sets once its clock reaches clock. The returned schedule
// holds every favourite and price change due by clock, at step 0 and in the order the
// changes take effect. One remove entry at step 0 then removes the items unavailable at
// clock. Later changes are dropped. Evaluation of a model trained under drift uses it, so that the model is
// evaluated in the shop it was trained in at the time, whatever the evaluation's length.
// It returns an error when the schedule is invalid for cat, or when an unavailable item's
// ID contains a comma or a plus sign, which a schedule cannot name.
func FreezeDrift(schedule string, clock int64, cat *Catalog) (string, error) {
	events, unavailable, err := resolveDrift(schedule, cat)
	if err != nil {
		return "", err
	}
	var frozen []DriftChange
	for _, ev := range events {
		if ev.step > clock {
			break
		}
		switch ev.name {
		case DriftAdd, DriftAddCategory:
			for _, i := range ev.items {
				unavailable[i] = false
			}
		case DriftRemove, DriftRemoveCategory:
			for _, i := range ev.items {
				unavailable[i] = true
			}
		default:
			d := ev.original
			d.Step = 0
			frozen = append(frozen, d)
		}
	}
	removed := DriftChange{Name: DriftRemove}
	for i, off := range unavailable {
		if !off {
			continue
		}
		id := cat.Items[i].ID
		if strings.ContainsAny(id, ",+") || strings.TrimSpace(id) != id {
			return "", fmt.Errorf("simenv: drift %q: item ID %q is unavailable at shopper-step %d, but a drift schedule cannot name an ID with a comma, a plus sign or surrounding spaces; rename the item in the catalog",
				schedule, id, clock)
		}
		removed.Items = append(removed.Items, id)
	}
	if len(removed.Items) > 0 {
		frozen = append(frozen, removed)
	}
	return FormatDrift(frozen), nil
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// driftEvent is a change resolved against a catalog.
type driftEvent struct {
	step     int64
	name     string
	persona  string  // "" for every persona with the favourite
	index    int     // colour or category index; for price, the category
	items    []int   // add, remove and the category forms: the items changed
	factor   float64 // price
	original DriftChange
}

// resolveDrift parses schedule and resolves its names against cat. It returns the events
// in the order they take effect (by step, then as given) and the items that start
// unavailable: those whose first change is an addition.
func resolveDrift(schedule string, cat *Catalog) ([]driftEvent, []bool, error) {
	changes, err := ParseDrift(schedule)
	if err != nil {
		return nil, nil, err
	}
	events := make([]driftEvent, 0, len(changes))
	for _, d := range changes {
		ev := driftEvent{step: d.Step, name: d.Name, persona: d.Persona, factor: d.Factor, original: d}
		switch d.Name {
		case DriftFavoriteColor:
			if ev.index = slices.Index(cat.Colors, d.Value); ev.index < 0 {
				return nil, nil, fmt.Errorf("simenv: drift %s: colour %q is not in catalog %s; its colours are %s",
					d, d.Value, cat.Source, strings.Join(cat.Colors, ", "))
			}
		case DriftFavoriteCategory, DriftPrice, DriftAddCategory, DriftRemoveCategory:
			if ev.index = slices.Index(cat.Categories, d.Value); ev.index < 0 {
				return nil, nil, fmt.Errorf("simenv: drift %s: category %q is not in catalog %s; its categories are %s",
					d, d.Value, cat.Source, strings.Join(cat.Categories, ", "))
			}
			if d.Name == DriftAddCategory || d.Name == DriftRemoveCategory {
				for i, c := range cat.CategoryOf {
					if c == ev.index {
						ev.items = append(ev.items, i)
					}
				}
			}
		case DriftAdd, DriftRemove:
			for _, id := range d.Items {
				i, ok := cat.Index(id)
				if !ok {
					return nil, nil, fmt.Errorf("simenv: drift %s: item ID %q is not in catalog %s; name items by their item_id", d, id, cat.Source)
				}
				ev.items = append(ev.items, i)
			}
		}
		events = append(events, ev)
	}
	slices.SortStableFunc(events, func(a, b driftEvent) int { return compareInt64(a.step, b.step) })

	// An item whose first change adds it is unavailable until then.
	unavailable := make([]bool, cat.Len())
	touched := make([]bool, cat.Len())
	for _, ev := range events {
		adds := ev.name == DriftAdd || ev.name == DriftAddCategory
		for _, i := range ev.items {
			if !touched[i] {
				touched[i] = true
				unavailable[i] = adds
			}
		}
	}
	return events, unavailable, nil
}

// Clock returns the VecEnv's clock: the shopper-steps simulated so far, which is the number
// of Step calls times NumSessions (a finished session that waits for ResetSession counts
// too), plus the start that SetClock set. Every drift change due at or before the clock has
// been applied, so the next Step plays in the shop as the schedule has it at Clock.
func (e *VecEnv) Clock() int64 { return e.clock }

// SetClock moves the clock forward to shopperSteps and applies the drift changes due by
// then. A resumed training run calls it with the shopper-steps trained so far, so that its
// new VecEnv is in the shop that the schedule sets at that point. It returns an error when
// shopperSteps is below the clock.
func (e *VecEnv) SetClock(shopperSteps int64) error {
	if shopperSteps < e.clock {
		return fmt.Errorf("simenv: cannot set the clock back from shopper-step %d to %d; the clock only moves forward", e.clock, shopperSteps)
	}
	e.clock = shopperSteps
	e.applyDueDrift()
	return nil
}

// applyDueDrift applies, in order, the drift events due at or before the clock.
func (e *VecEnv) applyDueDrift() {
	for e.nextDrift < len(e.drift) && e.drift[e.nextDrift].step <= e.clock {
		e.applyDrift(&e.drift[e.nextDrift])
		e.nextDrift++
	}
}

// applyDrift applies one change to the shop and to the shoppers of every session.
func (e *VecEnv) applyDrift(ev *driftEvent) {
	switch ev.name {
	case DriftFavoriteColor:
		if ev.persona == "" || ev.persona == CheapBlue {
			for i, c := range e.stats.color {
				e.stats.blue[i] = c == ev.index
			}
		}
		if ev.persona == "" || ev.persona == BrandLover {
			e.favoriteColor[slices.Index(PersonaNames, BrandLover)] = ev.index
			e.favoritesDrifted = true
		}
	case DriftFavoriteCategory:
		for _, p := range categoryPersonas {
			if ev.persona == "" || ev.persona == p {
				e.favoriteCategory[slices.Index(PersonaNames, p)] = ev.index
				e.favoritesDrifted = true
			}
		}
	case DriftPrice:
		for i, c := range e.stats.category {
			if c == ev.index {
				e.stats.setPrice(i, e.stats.price[i]*ev.factor, e.Catalog.Items[i].Rating)
			}
		}
	case DriftAdd, DriftAddCategory:
		for _, i := range ev.items {
			e.Available[i] = true
		}
	case DriftRemove, DriftRemoveCategory:
		for _, i := range ev.items {
			e.Available[i] = false
		}
	}
	if ev.name == DriftFavoriteColor || ev.name == DriftFavoriteCategory {
		for i := range e.sessions {
			e.applyFavorites(&e.sessions[i].shopper)
		}
	}
}

// applyFavorites sets the favourites of shopper s that drift has changed for its persona.
func (e *VecEnv) applyFavorites(s *Shopper) {
	k := slices.Index(PersonaNames, s.Persona)
	if k < 0 {
		return
	}
	if c := e.favoriteColor[k]; c >= 0 {
		s.FavoriteColor = c
	}
	if c := e.favoriteCategory[k]; c >= 0 {
		s.FavoriteCategory = c
	}
}
