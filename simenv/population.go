package simenv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Population is a weighted mix of personas. Each new shopper of a VecEnv is of persona
// Personas[k] with probability Shares[k]. Build one with ParsePopulation.
type Population struct {
	Personas []string  // distinct persona names, in the order given
	Shares   []float64 // per persona, >= 0 and summing to 1
}

// populationExample is the form that population error messages suggest.
const populationExample = "cheap_blue:0.5,value_seeker:0.5"

// ParsePopulation parses a population from a single persona name, such as "cheap_blue"
// (weight 1), or from comma-separated name:weight entries, such as
// "cheap_blue:0.5,value_seeker:0.5". Spaces around names and weights are ignored. Weights
// are finite numbers >= 0, at least one of them above 0, and are divided by their sum to
// give the shares. ParsePopulation rejects an empty string or entry, a missing colon, an
// empty name, an unknown persona, a persona given twice, a weight that is not a number, a
// negative, NaN or infinite weight, and weights that are all 0. The error names the entry
// and the invalid value.
func ParsePopulation(s string) (Population, error) {
	if strings.TrimSpace(s) == "" {
		return Population{}, fmt.Errorf("simenv: population %q is empty; give a persona name such as cheap_blue, or a mix such as %s",
			s, populationExample)
	}

	// A single name without a weight is the whole population.
	if !strings.ContainsAny(s, ",:") {
		name := strings.TrimSpace(s)
		if err := CheckPersona(name); err != nil {
			return Population{}, err
		}
		return Population{Personas: []string{name}, Shares: []float64{1}}, nil
	}

	// Parse and check the name:weight entries.
	var p Population
	total := 0.0
	for k, entry := range strings.Split(s, ",") {
		position := k + 1
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return Population{}, fmt.Errorf("simenv: population %q: entry %d is empty; separate name:weight entries by single commas, such as %s",
				s, position, populationExample)
		}
		name, weightText, found := strings.Cut(entry, ":")
		if !found {
			return Population{}, fmt.Errorf("simenv: population %q: entry %d %q has no colon; write each entry of a mix as name:weight, such as %s",
				s, position, entry, populationExample)
		}
		name, weightText = strings.TrimSpace(name), strings.TrimSpace(weightText)
		if name == "" {
			return Population{}, fmt.Errorf("simenv: population %q: entry %d %q has an empty persona name; write it as name:weight, such as cheap_blue:0.5",
				s, position, entry)
		}
		if err := CheckPersona(name); err != nil {
			return Population{}, fmt.Errorf("simenv: population %q: entry %d: unknown persona %q; valid personas: %s",
				s, position, name, strings.Join(PersonaNames, ", "))
		}
		weight, err := strconv.ParseFloat(weightText, 64)
		if err != nil {
			return Population{}, fmt.Errorf("simenv: population %q: entry %d: weight %q of %s is not a number; write a number >= 0 such as 0.5",
				s, position, weightText, name)
		}
		if math.IsNaN(weight) || math.IsInf(weight, 0) || weight < 0 {
			return Population{}, fmt.Errorf("simenv: population %q: entry %d: weight %v of %s is invalid; use a finite number >= 0",
				s, position, weight, name)
		}
		for first, seen := range p.Personas {
			if seen == name {
				return Population{}, fmt.Errorf("simenv: population %q: entry %d repeats persona %s of entry %d; give each persona once, with its total weight",
					s, position, name, first+1)
			}
		}
		p.Personas = append(p.Personas, name)
		p.Shares = append(p.Shares, weight)
		total += weight
	}

	// Turn the weights into shares. The sum of finite weights can still overflow.
	if total == 0 {
		return Population{}, fmt.Errorf("simenv: population %q: all weights are 0; give at least one persona a weight above 0", s)
	}
	if math.IsInf(total, 0) {
		return Population{}, fmt.Errorf("simenv: population %q: the weights sum to more than the largest float64; use smaller weights such as shares that sum to 1", s)
	}
	for k := range p.Shares {
		p.Shares[k] /= total
	}
	return p, nil
}

// String returns the population in the form ParsePopulation reads: the persona name alone
// for a single persona, otherwise name:share entries.
func (p Population) String() string {
	if len(p.Personas) == 1 {
		return p.Personas[0]
	}
	entries := make([]string, len(p.Personas))
	for k, name := range p.Personas {
		entries[k] = name + ":" + strconv.FormatFloat(p.Shares[k], 'g', -1, 64)
	}
	return strings.Join(entries, ",")
}

// Sample returns the index in p.Personas of a persona drawn with probabilities p.Shares. It
// draws one number from rng, except that a population with only one persona of share above
// 0 draws nothing, so that a single-persona population leaves rng as it was. It allocates
// nothing.
func (p Population) Sample(rng *rand.Rand) int {
	only := -1
	for k, share := range p.Shares {
		if share == 0 {
			continue
		}
		if only >= 0 {
			only = -1
			break
		}
		only = k
	}
	if only >= 0 {
		return only
	}

	u := rng.Float64()
	last := 0
	for k, share := range p.Shares {
		if share == 0 {
			continue
		}
		if u < share {
			return k
		}
		u -= share
		last = k
	}
	// Rounding can leave u at a tiny non-negative value after the last share.
	return last
}
