package simenv

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Column names of the catalog CSV format.
const (
	columnID         = "item_id"
	columnName       = "name"
	columnCategory   = "category"
	columnPrice      = "price"
	columnColor      = "color"
	columnBrand      = "brand"
	columnPopularity = "popularity"
	columnRating     = "rating"
	columnAge        = "release_age_days"
)

// DefaultRating is the rating, in stars, that ReadCSV gives an item whose rating column is
// missing or whose rating cell is empty. It is the midpoint of the 1 to 5 scale, so an
// unrated item is neither favoured nor penalised by rating-driven shoppers.
const DefaultRating = 3.0

// csvHeader is the header row that WriteCSV writes, in this order, for a catalog without
// release ages; csvHeaderWithAge adds the release age column.
var (
	csvHeader = []string{
		columnID, columnName, columnCategory, columnPrice, columnColor, columnBrand, columnPopularity, columnRating,
	}
	csvHeaderWithAge = append(append([]string(nil), csvHeader...), columnAge)
)

// requiredColumns lists the columns that every catalog file must have.
var requiredColumns = []string{columnID, columnCategory, columnPrice, columnColor, columnBrand}

// utf8BOM is the byte order mark that some spreadsheet programs write at the start of a file.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// LoadCSV reads a catalog from the CSV file at path, as ReadCSV describes. The catalog's
// Source is path.
func LoadCSV(path string) (*Catalog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("simenv: load catalog: %w; check the catalog path", err)
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.IsDir() {
		return nil, fmt.Errorf("simenv: load catalog: %s is a folder; give the path of a catalog CSV file in it", path)
	}
	return ReadCSV(f, path)
}

// ReadCSV reads a catalog from comma-separated values with a header row (RFC 4180 quoting,
// UTF-8, an optional byte order mark). Name identifies the input in error messages and
// becomes the catalog's Source.
//
// The header names the columns in any order. Names match case-insensitively after trimming
// spaces, and unknown columns such as currency are ignored. The columns item_id, category,
// price, color and brand are required, and their cells must not be empty. The column name is
// optional. The column popularity is optional, and a missing column or an empty cell gives 0.
// The column rating is optional, and a missing column or an empty cell gives DefaultRating
// (3, the midpoint of the 1 to 5 scale). The column release_age_days, the days since the
// item's release, is optional. A missing column gives every item the age 0, so all items are
// equally new. An empty cell gives the median of the column's non-empty cells (0 when all are
// empty), so an item of unknown age is neither favoured nor penalised by freshness-driven
// shoppers. Cells are trimmed of surrounding spaces.
//
// The first invalid cell stops the read. Its error names the input, the 1-based line (the
// header is line 1), the column and the value, and gives the fix.
func ReadCSV(r io.Reader, name string) (*Catalog, error) {
	// Skip a UTF-8 byte order mark so that it does not become part of the first column name.
	buffered := bufio.NewReader(r)
	if start, err := buffered.Peek(len(utf8BOM)); err == nil && bytes.Equal(start, utf8BOM) {
		if _, err := buffered.Discard(len(utf8BOM)); err != nil {
			return nil, fmt.Errorf("simenv: read catalog %s: %w", name, err)
		}
	}

	// The header fixes the number of fields that every row must have, because
	// FieldsPerRecord is 0 when the first record is read.
	reader := csv.NewReader(buffered)
	header, err := reader.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("simenv: read catalog %s: the file is empty; start it with a header row such as %s",
			name, strings.Join(csvHeader, ","))
	}
	if err != nil {
		return nil, csvSyntaxError(name, err, nil, 0)
	}
	columns, err := parseCSVHeader(header, name)
	if err != nil {
		return nil, err
	}

	// Parse and validate the rows, remembering the line of each item ID to report duplicates.
	var items []Item
	var unknownAge []int // items whose release age cell is empty
	lineOfID := make(map[string]int)
	for {
		record, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvSyntaxError(name, err, record, len(header))
		}
		row := csvRow{record: record, columns: columns, reader: reader, source: name}
		item, ageKnown, err := row.item()
		if err != nil {
			return nil, err
		}
		if !ageKnown {
			unknownAge = append(unknownAge, len(items))
		}
		line := row.line(columnID)
		if first, seen := lineOfID[item.ID]; seen {
			return nil, fmt.Errorf("simenv: read catalog %s line %d column %q: item_id %q already appears on line %d; give every row a unique item ID",
				name, line, columnID, item.ID, first)
		}
		lineOfID[item.ID] = line
		items = append(items, item)
	}

	if len(items) == 0 {
		return nil, fmt.Errorf("simenv: read catalog %s: no item rows after the header on line 1; add at least one item row", name)
	}
	if _, hasAge := columns[columnAge]; hasAge {
		fillUnknownAges(items, unknownAge)
	}
	return NewCatalog(items, name)
}

// fillUnknownAges sets the release age of the items listed in unknown to the median age of
// the other items, or leaves it 0 when no item has a known age.
func fillUnknownAges(items []Item, unknown []int) {
	if len(unknown) == 0 || len(unknown) == len(items) {
		return
	}
	isUnknown := make([]bool, len(items))
	for _, i := range unknown {
		isUnknown[i] = true
	}
	known := make([]float64, 0, len(items)-len(unknown))
	for i := range items {
		if !isUnknown[i] {
			known = append(known, items[i].AgeDays)
		}
	}
	median := medianOf(known)
	for _, i := range unknown {
		items[i].AgeDays = median
	}
}

// medianOf returns the median of x, the mean of the two middle values when len(x) is even.
// It sorts x in place. x must not be empty.
func medianOf(x []float64) float64 {
	slices.Sort(x)
	mid := len(x) / 2
	if len(x)%2 == 1 {
		return x[mid]
	}
	return x[mid-1]/2 + x[mid]/2
}

// parseCSVHeader maps each known column name to its field index, and checks that the
// required columns are present and that no known column appears twice.
func parseCSVHeader(header []string, source string) (map[string]int, error) {
	columns := make(map[string]int)
	for i, cell := range header {
		column := strings.ToLower(strings.TrimSpace(cell))
		if !isKnownColumn(column) {
			continue
		}
		if first, seen := columns[column]; seen {
			return nil, fmt.Errorf("simenv: read catalog %s line 1 column %q: the header names this column twice, as %q in field %d and %q in field %d; keep one of them",
				source, column, header[first], first+1, cell, i+1)
		}
		columns[column] = i
	}

	var missing []string
	for _, column := range requiredColumns {
		if _, ok := columns[column]; !ok {
			missing = append(missing, column)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("simenv: read catalog %s line 1: the header %q is missing the required columns %s; start the file with a header row such as %s",
			source, shorten(strings.Join(header, ","), 200), strings.Join(missing, ", "), strings.Join(csvHeader, ","))
	}
	return columns, nil
}

func isKnownColumn(column string) bool {
	for _, known := range csvHeaderWithAge {
		if column == known {
			return true
		}
	}
	return false
}

// csvSyntaxError wraps an error of csv.Reader with the input name and a hint. For a row
// with the wrong number of fields, record is that row and headerFields the header's count.
func csvSyntaxError(source string, err error, record []string, headerFields int) error {
	var parseErr *csv.ParseError
	if !errors.As(err, &parseErr) {
		return fmt.Errorf("simenv: read catalog %s: %w", source, err)
	}
	if errors.Is(parseErr.Err, csv.ErrFieldCount) {
		return fmt.Errorf("simenv: read catalog %s line %d: %w: the row has %d fields but the header has %d; give every row one field per header column, and quote fields that contain commas",
			source, parseErr.StartLine, parseErr.Err, len(record), headerFields)
	}
	// The csv.ParseError message already gives the line and the byte column.
	return fmt.Errorf("simenv: read catalog %s: %w; enclose a field that contains commas, quotes or line breaks in double quotes, and write a quote inside it as two quotes",
		source, err)
}

// shorten cuts s after limit bytes and appends "..." when it cut anything.
func shorten(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}

// csvRow is one data record of a catalog file, with what it needs to report errors.
type csvRow struct {
	record  []string
	columns map[string]int // field index of each known column
	reader  *csv.Reader    // positioned at this record, for line numbers
	source  string
}

// cell returns the trimmed value of a column, and whether the header has that column.
func (row csvRow) cell(column string) (string, bool) {
	i, ok := row.columns[column]
	if !ok {
		return "", false
	}
	return strings.TrimSpace(row.record[i]), true
}

// line returns the 1-based line on which a column's field starts. Rows with quoted line
// breaks span several lines, so fields of one row may start on different lines.
func (row csvRow) line(column string) int {
	i, ok := row.columns[column]
	if !ok {
		i = 0
	}
	line, _ := row.reader.FieldPos(i)
	return line
}

// errorf returns an error located at a column of this row.
func (row csvRow) errorf(column, format string, args ...any) error {
	location := fmt.Sprintf("simenv: read catalog %s line %d column %q: ", row.source, row.line(column), column)
	return errors.New(location + fmt.Sprintf(format, args...))
}

// item parses and validates the fields of the row. ageKnown is false when the release age
// column is missing or its cell is empty, and the item's age is then 0.
func (row csvRow) item() (it Item, ageKnown bool, err error) {

	// Required text fields.
	texts := []struct {
		column string
		dst    *string
		fix    string
	}{
		{columnID, &it.ID, "give every row a unique item ID"},
		{columnCategory, &it.Category, "give every row a category such as Tops"},
		{columnColor, &it.Color, `give every row a colour word such as blue, or "unknown"`},
		{columnBrand, &it.Brand, "give every row a brand or seller name"},
	}
	for _, text := range texts {
		value, _ := row.cell(text.column)
		if value == "" {
			return Item{}, false, row.errorf(text.column, "%s %q is empty; %s", text.column, value, text.fix)
		}
		*text.dst = value
	}
	it.Name, _ = row.cell(columnName)

	// Price: a finite number above 0.
	value, _ := row.cell(columnPrice)
	price, err := strconv.ParseFloat(value, 64)
	if err != nil || math.IsNaN(price) || math.IsInf(price, 0) || price <= 0 {
		return Item{}, false, row.errorf(columnPrice, "price %q is not a positive number; write the price as a decimal number above 0, such as 12.50", value)
	}
	it.Price = price

	// Popularity: a finite number of at least 0, or 0 when absent.
	if value, ok := row.cell(columnPopularity); ok && value != "" {
		popularity, err := strconv.ParseFloat(value, 64)
		if err != nil || math.IsNaN(popularity) || math.IsInf(popularity, 0) || popularity < 0 {
			return Item{}, false, row.errorf(columnPopularity, "popularity %q is not a number >= 0; write a count such as 120, or leave the cell empty for 0", value)
		}
		it.Popularity = popularity
	}

	// Rating: a number in [1, 5], or DefaultRating when absent.
	it.Rating = DefaultRating
	if value, ok := row.cell(columnRating); ok && value != "" {
		rating, err := strconv.ParseFloat(value, 64)
		if err != nil || math.IsNaN(rating) || rating < 1 || rating > 5 {
			return Item{}, false, row.errorf(columnRating, "rating %q is not a number from 1 to 5; write the mean rating such as 4.2, or leave the cell empty for the default %v", value, DefaultRating)
		}
		it.Rating = rating
	}

	// Release age: a finite number of days of at least 0; ReadCSV fills an absent one.
	if value, ok := row.cell(columnAge); ok && value != "" {
		age, err := strconv.ParseFloat(value, 64)
		if err != nil || math.IsNaN(age) || math.IsInf(age, 0) || age < 0 {
			return Item{}, false, row.errorf(columnAge, "release_age_days %q is not a number >= 0; write the days since release such as 30, or leave the cell empty for the median of the other items", value)
		}
		it.AgeDays = age
		ageKnown = true
	}
	return it, ageKnown, nil
}

// WriteCSV writes the catalog as CSV with the header
// item_id,name,category,price,color,brand,popularity,rating,release_age_days and one row per
// item, in catalog order. When every item's release age is 0 it leaves out the
// release_age_days column, which ReadCSV then reads as 0, so a catalog without release ages
// keeps the fingerprint it had before the column existed. Each number is written in the
// shortest decimal form that parses back to the same float64. ReadCSV therefore returns the
// same items, unless a text field has surrounding spaces, which ReadCSV trims.
func (c *Catalog) WriteCSV(w io.Writer) error {
	withAge := false
	for i := range c.Items {
		withAge = withAge || c.Items[i].AgeDays != 0
	}
	header := csvHeader
	if withAge {
		header = csvHeaderWithAge
	}

	writer := csv.NewWriter(w)
	if err := writer.Write(header); err != nil {
		return fmt.Errorf("simenv: write catalog %s: %w", c.Source, err)
	}
	for _, it := range c.Items {
		record := []string{
			it.ID,
			it.Name,
			it.Category,
			strconv.FormatFloat(it.Price, 'f', -1, 64),
			it.Color,
			it.Brand,
			strconv.FormatFloat(it.Popularity, 'f', -1, 64),
			strconv.FormatFloat(it.Rating, 'f', -1, 64),
		}
		if withAge {
			record = append(record, strconv.FormatFloat(it.AgeDays, 'f', -1, 64))
		}
		if err := writer.Write(record); err != nil {
			return fmt.Errorf("simenv: write catalog %s: %w", c.Source, err)
		}
	}
	writer.Flush()
	if err := writer.Error(); err != nil {
		return fmt.Errorf("simenv: write catalog %s: %w", c.Source, err)
	}
	return nil
}

// SaveCSV writes the catalog to the file at path with WriteCSV, creating or truncating it.
// A failed write can leave a partial file behind.
func (c *Catalog) SaveCSV(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("simenv: save catalog: %w; check that the folder exists and is writable", err)
	}
	if err := c.WriteCSV(f); err != nil {
		f.Close()
		return fmt.Errorf("simenv: save catalog to %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("simenv: save catalog: %w", err)
	}
	return nil
}
