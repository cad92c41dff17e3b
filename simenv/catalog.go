// Package simenv simulates an online shop: a product catalog, shoppers that follow
// documented personas, and a vectorized, seeded environment in which a recommender
// shows each shopper a slate of products and observes the reaction.
package simenv

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Item is one product of the catalog.
type Item struct {
	ID         string  // unique within the catalog
	Name       string  // display title; may be empty
	Category   string  // e.g. "Tops"
	Price      float64 // selling price in the catalog's currency, > 0
	Color      string  // normalised colour word, e.g. "blue"; "unknown" when not known
	Brand      string  // brand or seller name
	Popularity float64 // number of ratings or sales, >= 0
	Rating     float64 // mean customer rating in [1, 5]
	AgeDays    float64 // days since the item's release, >= 0
}

// Catalog is an immutable list of items with dense indices for their categorical fields.
// Build one with NewCatalog, Generate or LoadCSV; all of them validate the items.
type Catalog struct {
	Items []Item

	// Categories, Colors and Brands list the distinct values in sorted order.
	Categories []string
	Colors     []string
	Brands     []string

	// CategoryOf, ColorOf and BrandOf give, per item, the index into the lists above.
	CategoryOf []int
	ColorOf    []int
	BrandOf    []int

	// Source describes where the catalog came from: a file path, or the generator and its seed.
	Source string

	// index maps an item ID to its position in Items.
	index map[string]int
}

// Len returns the number of items.
func (c *Catalog) Len() int { return len(c.Items) }

// NewCatalog validates items and builds a catalog over a copy of them. Source names the
// origin (a file path, or the generator and its seed) and appears in error messages.
//
// The items must number at least one and have unique, non-blank IDs. Each item needs a finite
// price above 0, a rating in [1, 5], a finite popularity and release age of at least 0, and a
// non-blank category, colour and brand. NewCatalog returns an error naming the first item that breaks a rule.
func NewCatalog(items []Item, source string) (*Catalog, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("simenv: catalog %s has no items; give it at least one item", source)
	}

	// Validate every item and build the ID index.
	index := make(map[string]int, len(items))
	for i := range items {
		if err := validateItem(&items[i]); err != nil {
			return nil, fmt.Errorf("simenv: catalog %s item %d (ID %q): %w", source, i, items[i].ID, err)
		}
		if first, seen := index[items[i].ID]; seen {
			return nil, fmt.Errorf("simenv: catalog %s item %d: ID %q is already used by item %d; give every item a unique ID",
				source, i, items[i].ID, first)
		}
		index[items[i].ID] = i
	}

	// Collect the sorted distinct values and the per-item indices into them.
	c := &Catalog{
		Items:  append([]Item(nil), items...),
		Source: source,
		index:  index,
	}
	c.Categories, c.CategoryOf = distinctValues(c.Items, func(it *Item) string { return it.Category })
	c.Colors, c.ColorOf = distinctValues(c.Items, func(it *Item) string { return it.Color })
	c.Brands, c.BrandOf = distinctValues(c.Items, func(it *Item) string { return it.Brand })
	return c, nil
}

// validateItem checks the field rules of NewCatalog on one item.
func validateItem(it *Item) error {
	switch {
	case strings.TrimSpace(it.ID) == "":
		return errors.New("ID is blank; give every item a non-empty ID")
	case math.IsNaN(it.Price) || math.IsInf(it.Price, 0) || it.Price <= 0:
		return fmt.Errorf("price %v is not a positive finite number; set a price above 0", it.Price)
	case math.IsNaN(it.Rating) || it.Rating < 1 || it.Rating > 5:
		return fmt.Errorf("rating %v is outside [1, 5]; use a mean rating from 1 to 5", it.Rating)
	case math.IsNaN(it.Popularity) || math.IsInf(it.Popularity, 0) || it.Popularity < 0:
		return fmt.Errorf("popularity %v is not a finite number >= 0; use a count of ratings or sales", it.Popularity)
	case math.IsNaN(it.AgeDays) || math.IsInf(it.AgeDays, 0) || it.AgeDays < 0:
		return fmt.Errorf("release age %v is not a finite number >= 0; use the days since the item's release", it.AgeDays)
	case strings.TrimSpace(it.Category) == "":
		return errors.New("category is blank; give every item a category")
	case strings.TrimSpace(it.Color) == "":
		return errors.New(`color is blank; give every item a colour word, or "unknown"`)
	case strings.TrimSpace(it.Brand) == "":
		return errors.New("brand is blank; give every item a brand or seller name")
	}
	return nil
}

// distinctValues returns the sorted distinct values of field over items and, per item, the
// index of its value in that list.
func distinctValues(items []Item, field func(*Item) string) (values []string, indexOf []int) {
	seen := make(map[string]bool)
	for i := range items {
		v := field(&items[i])
		if !seen[v] {
			seen[v] = true
			values = append(values, v)
		}
	}
	slices.Sort(values)

	position := make(map[string]int, len(values))
	for i, v := range values {
		position[v] = i
	}
	indexOf = make([]int, len(items))
	for i := range items {
		indexOf[i] = position[field(&items[i])]
	}
	return values, indexOf
}

// Index returns the position of the item with the given ID in c.Items, and whether the
// catalog contains it. It takes constant time for a catalog built by NewCatalog, Generate or
// ReadCSV, and falls back to a linear scan for a Catalog assembled by hand.
func (c *Catalog) Index(id string) (int, bool) {
	if c.index != nil {
		i, ok := c.index[id]
		return i, ok
	}
	for i := range c.Items {
		if c.Items[i].ID == id {
			return i, true
		}
	}
	return 0, false
}

// Fingerprint returns the hex-encoded SHA-256 digest of the CSV that WriteCSV writes, so two
// catalogs with the same items in the same order have the same fingerprint whatever their
// Source.
func (c *Catalog) Fingerprint() string {
	h := sha256.New()
	// hash.Hash's Write never returns an error (its documentation in Go's standard library
	// states so), so WriteCSV cannot fail here.
	_ = c.WriteCSV(h)
	return hex.EncodeToString(h.Sum(nil))
}

// CheckSlateSize returns an error unless slateSize is at least 1 and the catalog has at least
// slateSize items, so that a slate of distinct items can be filled. The loaders cannot check
// this because they do not know the slate size.
func CheckSlateSize(c *Catalog, slateSize int) error {
	if slateSize < 1 {
		return fmt.Errorf("simenv: slate size %d is less than 1; show at least one item per slate", slateSize)
	}
	if c.Len() < slateSize {
		return fmt.Errorf("simenv: catalog %s has %d items, fewer than the slate size %d; use a catalog with at least %d items",
			c.Source, c.Len(), slateSize, slateSize)
	}
	return nil
}
