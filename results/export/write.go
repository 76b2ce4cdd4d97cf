package export

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteCSV writes the table as CSV with a header line: missing values are
// empty fields, numbers in Go's shortest exact form, booleans true/false.
func (t *Table) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(t.Columns); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	rec := make([]string, len(t.Columns))
	for _, row := range t.Rows {
		for i, v := range row {
			rec[i] = csvField(v)
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

func csvField(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case json.RawMessage:
		return string(v)
	}
	return fmt.Sprint(v)
}

// WriteJSON writes the table as one JSON array of objects, one per row,
// with the keys in column order; missing values are null.
func (t *Table) WriteJSON(w io.Writer) error {
	keys := make([][]byte, len(t.Columns))
	for i, c := range t.Columns {
		keys[i], _ = json.Marshal(c)
	}
	var b strings.Builder
	b.WriteString("[")
	for r, row := range t.Rows {
		if r > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n{")
		for i, v := range row {
			if i > 0 {
				b.WriteString(",")
			}
			val, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("write json: column %s: %w", t.Columns[i], err)
			}
			b.Write(keys[i])
			b.WriteString(":")
			b.Write(val)
		}
		b.WriteString("}")
		if b.Len() > 1<<16 {
			if _, err := io.WriteString(w, b.String()); err != nil {
				return fmt.Errorf("write json: %w", err)
			}
			b.Reset()
		}
	}
	b.WriteString("\n]\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// Write writes the table in format ("csv" or "json").
func (t *Table) Write(w io.Writer, format string) error {
	switch format {
	case "csv":
		return t.WriteCSV(w)
	case "json":
		return t.WriteJSON(w)
	}
	return fmt.Errorf("--format %q: want csv or json", format)
}
