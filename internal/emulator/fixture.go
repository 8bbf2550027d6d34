package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/dune-mcp/dune-mcp/dune"
)

// LoadFixture reads a saved Dune results response (the JSON body of
// GET /api/v1/{query,execution}/.../results) and returns its rows as a
// dataset, columns in column_names order. Column types come from
// column_types when present, otherwise they are inferred from the values
// (see InferType). Numbers stay exact (json.Number).
func LoadFixture(path string) (*Dataset, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("emulator: load fixture: %w", err)
	}
	var body struct {
		Result *struct {
			Rows     []map[string]any `json:"rows"`
			Metadata struct {
				ColumnNames []string `json:"column_names"`
				ColumnTypes []string `json:"column_types"`
			} `json:"metadata"`
		} `json:"result"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		return nil, fmt.Errorf("emulator: load fixture %s: %w", path, err)
	}
	if body.Result == nil {
		return nil, fmt.Errorf("emulator: load fixture %s: no result object", path)
	}
	md := body.Result.Metadata
	names := md.ColumnNames
	if len(names) == 0 && len(body.Result.Rows) > 0 {
		for k := range body.Result.Rows[0] {
			names = append(names, k)
		}
		slices.Sort(names)
	}
	if len(md.ColumnTypes) != 0 && len(md.ColumnTypes) != len(names) {
		return nil, fmt.Errorf("emulator: load fixture %s: %d column_types for %d column_names", path, len(md.ColumnTypes), len(names))
	}
	cols := make([]dune.Column, len(names))
	rows := make([]dune.Row, len(body.Result.Rows))
	for i, obj := range body.Result.Rows {
		row := make(dune.Row, len(names))
		for j, n := range names {
			row[j] = obj[n]
		}
		rows[i] = row
	}
	for j, n := range names {
		cols[j].Name = n
		if md.ColumnTypes != nil {
			cols[j].Type = md.ColumnTypes[j]
			continue
		}
		vals := make([]any, len(rows))
		for i := range rows {
			vals[i] = rows[i][j]
		}
		cols[j].Type = InferType(vals)
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return NewDataset(name, cols, rows), nil
}

var (
	reTimestamp = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2}(\.\d+)?)?( UTC)?$`)
	reDate      = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(T00:00:00Z)?$`)
	reHex       = regexp.MustCompile(`^0x[0-9a-fA-F]*$`)
	reDigits    = regexp.MustCompile(`^-?\d+$`)
)

// InferType guesses a Dune column type from a column's JSON values (NULLs
// ignored): bigint or double for numbers, boolean, timestamp for
// "2024-03-05 20:50:59.000 UTC", date for "2021-06-01T00:00:00Z" or
// "2021-06-01", varbinary for 0x hex, uint256 for digit strings longer than
// 18 characters, array/map for nested values, varchar otherwise.
func InferType(values []any) string {
	typ := ""
	longest := 0
	merge := func(t string) {
		switch {
		case typ == "" || typ == t:
			typ = t
		case (typ == "bigint" && t == "double") || (typ == "double" && t == "bigint"):
			typ = "double"
		case (typ == "timestamp" && t == "date") || (typ == "date" && t == "timestamp"):
			typ = "timestamp"
		case (typ == "uint256" && t == "int256") || (typ == "int256" && t == "uint256"):
			typ = "int256"
		default:
			typ = "varchar"
		}
	}
	for _, v := range values {
		switch x := v.(type) {
		case nil:
		case json.Number:
			if strings.ContainsAny(string(x), ".eE") {
				merge("double")
			} else {
				merge("bigint")
			}
		case float64:
			merge("double")
		case bool:
			merge("boolean")
		case []any:
			merge("array")
		case map[string]any:
			merge("map")
		case string:
			switch {
			case reTimestamp.MatchString(x):
				merge("timestamp")
			case reDate.MatchString(x):
				merge("date")
			case reHex.MatchString(x):
				merge("varbinary")
			case reDigits.MatchString(x):
				longest = max(longest, len(x))
				if strings.HasPrefix(x, "-") {
					merge("int256")
				} else {
					merge("uint256")
				}
			default:
				merge("varchar")
			}
		default:
			merge("varchar")
		}
	}
	if typ == "" || ((typ == "uint256" || typ == "int256") && longest <= 18) {
		return "varchar"
	}
	return typ
}
