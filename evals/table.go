package evals

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/dune-mcp/dune-mcp/dune"
)

// This file reads back the rows of a result that carries them as text: the
// table in structuredContent.table (result views "structured") or in the
// text content (result views "text"). It is written from the format
// docs/result-views.md and evals/README.md describe, never from the code
// that writes it (tools/summary), so that it can check that code:
//
//	types line      types: T,T×3,(T,T)×2 then T   (or schema (N columns, named in the CSV header; types in its order): …)
//	statistics      any lines
//	label           rows a–b as CSV (one header line[; legend]):   (terse: CSV[ (legend)]:)
//	constants       same in every row[ (left out of the table)]: name (type)=value, …
//	affixes         cells give only the * of (…): name=pattern, every TYPE column=pattern, …   (terse: cells fill the * of: …)
//	header          CSV, the columns left in the table
//	records         RFC 4180; NULL = empty field ("" = the empty string); a one-column table writes NULL as ∅
//
// Without a row shown, the table is a schema line listing "name type" items
// (or only their count), and statistics.

// nullMark is how a table of one column, and the constants line, write NULL.
const nullMark = "∅"

// tableCell is one cell read back from a table: its text with the table's
// own writing undone (CSV quoting removed, the affix pattern filled), or
// NULL.
type tableCell struct {
	text string
	null bool
}

// String shows the cell in a diff: NULL, or its text quoted.
func (c tableCell) String() string {
	if c.null {
		return "NULL"
	}
	return strconv.Quote(c.text)
}

// tableConst is a column given once, above the table, with its one value.
type tableConst struct {
	col  dune.Column
	cell tableCell
}

// readTable is a table read back.
type readTable struct {
	// cols are the CSV header's columns, typed from the types line.
	cols []dune.Column
	// consts are the columns given once (not in the header).
	consts []tableConst
	// rows are the records, one cell per header column, affixes filled.
	rows [][]tableCell
	// first and last are the label's "rows a–b" (0 when it gives none).
	first, last int
	// listed are the schema line's columns when no row is shown; listedAll
	// says whether it lists every column.
	listed    []dune.Column
	listedAll bool
	// declared is the column count a schema line states (0: none stated).
	declared int
}

var (
	labelRE      = regexp.MustCompile(`^(?:rows(?: ([\d,]+)–([\d,]+))? as CSV \(one header line(?:; .*)?\)|CSV(?: \(.*\))?):$`)
	typesFullRE  = regexp.MustCompile(`^schema \((\d+) columns, named in the CSV header; types in its order\): (.+)$`)
	typesTerseRE = regexp.MustCompile(`^types: (.+)$`)
	constsRE     = regexp.MustCompile(`^same in every row(?: \(left out of the table\))?: (.+)$`)
	affixRE      = regexp.MustCompile(`^cells (?:give only the \* of \(the rest is the same in every row\)|fill the \* of): (.+)$`)
	schemaListRE = regexp.MustCompile(`^schema(?: \((\d+) columns\))?: (.+)$`)
	schemaNoneRE = regexp.MustCompile(`^schema: (\d+) columns,? (?:not listed|\(not listed)`)
	moreColsRE   = regexp.MustCompile(` … and \d+ more columns( not listed \(token budget\))?$`)
	everyTypeRE  = regexp.MustCompile(`^every (.+) column$`)
)

// parseTable reads a table. records < 0 reads a table that is all there is
// (structuredContent.table): every record to the end. records >= 0 reads
// the table inside a text content: exactly that many records after the
// header, ignoring what follows them.
func parseTable(s string, records int) (*readTable, error) {
	t := &readTable{}
	lines, offs := splitLines(s)
	label := -1
	for i, l := range lines {
		if labelRE.MatchString(l) {
			label = i
			break
		}
	}
	if label < 0 {
		if records > 0 {
			return nil, fmt.Errorf("%d rows returned but no table label (\"rows a–b as CSV (one header line…):\" or \"CSV…:\")", records)
		}
		return t, t.readSchemaLine(lines)
	}
	if m := labelRE.FindStringSubmatch(lines[label]); m[1] != "" {
		t.first, t.last = atoiCommas(m[1]), atoiCommas(m[2])
	}
	// The types line is the first line above the label that reads as one
	// (statistics lines, below it, may start with a column named "types").
	var types []string
	typesAt := -1
	for i := 0; i < label && typesAt < 0; i++ {
		m := typesFullRE.FindStringSubmatch(lines[i])
		list := ""
		switch {
		case m != nil:
			t.declared, _ = strconv.Atoi(m[1])
			list = m[2]
		case typesTerseRE.MatchString(lines[i]):
			list = typesTerseRE.FindStringSubmatch(lines[i])[1]
		default:
			continue
		}
		typesAt = i
		var err error
		if types, err = expandTypes(list); err != nil {
			return nil, err
		}
	}
	if typesAt < 0 {
		return nil, errors.New("a table without a types line (\"types: …\" or \"schema (N columns, named in the CSV header; types in its order): …\") above its label")
	}
	next := label + 1
	if next < len(lines) {
		if m := constsRE.FindStringSubmatch(lines[next]); m != nil {
			consts, err := parseConsts(m[1])
			if err != nil {
				return nil, fmt.Errorf("constants line %q: %w", lines[next], err)
			}
			t.consts = consts
			next++
		}
	}
	var affixes []affixItem
	if next < len(lines) {
		if m := affixRE.FindStringSubmatch(lines[next]); m != nil {
			var err error
			if affixes, err = parseAffixes(m[1]); err != nil {
				return nil, fmt.Errorf("affix line %q: %w", lines[next], err)
			}
			next++
		}
	}
	if next >= len(lines) {
		return nil, errors.New("a table label without a CSV header")
	}
	recs, err := parseCSV(s[offs[next]:], records+1)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, errors.New("a table label without a CSV header")
	}
	header := recs[0]
	if len(types) != len(header) {
		return nil, fmt.Errorf("the types line gives %d types for %d header columns", len(types), len(header))
	}
	if t.declared > 0 && t.declared != len(header)+len(t.consts) {
		return nil, fmt.Errorf("the schema line says %d columns, the header and constants give %d", t.declared, len(header)+len(t.consts))
	}
	seen := map[string]bool{}
	for i, f := range header {
		if !f.quoted && f.text == "" {
			return nil, fmt.Errorf("header column %d has no name", i+1)
		}
		t.cols = append(t.cols, dune.Column{Name: f.text, Type: types[i]})
		seen[f.text] = true
	}
	for _, k := range t.consts {
		if seen[k.col.Name] {
			return nil, fmt.Errorf("column %q is both in the header and given once", k.col.Name)
		}
		seen[k.col.Name] = true
	}
	oneCol := len(header) == 1
	for n, rec := range recs[1:] {
		if len(rec) != len(header) {
			return nil, fmt.Errorf("record %d has %d fields, the header %d", n+1, len(rec), len(header))
		}
		row := make([]tableCell, len(rec))
		for i, f := range rec {
			switch {
			case oneCol && !f.quoted && f.text == nullMark:
				row[i] = tableCell{null: true}
			case oneCol && !f.quoted && f.text == "":
				return nil, fmt.Errorf("record %d is an empty line (a one-column table writes NULL as %s)", n+1, nullMark)
			case !oneCol && !f.quoted && f.text == "":
				row[i] = tableCell{null: true}
			default:
				row[i] = tableCell{text: f.text}
			}
		}
		t.rows = append(t.rows, row)
	}
	if records >= 0 && len(t.rows) != records {
		return nil, fmt.Errorf("%d rows returned, the table has %d records", records, len(t.rows))
	}
	if t.first > 0 && t.last-t.first+1 != len(t.rows) {
		return nil, fmt.Errorf("the label says rows %d–%d, the table has %d records", t.first, t.last, len(t.rows))
	}
	return t, t.fill(affixes)
}

// readSchemaLine reads the columns a table without rows lists.
func (t *readTable) readSchemaLine(lines []string) error {
	for _, l := range lines {
		if m := schemaNoneRE.FindStringSubmatch(l); m != nil {
			t.declared, _ = strconv.Atoi(m[1])
			return nil
		}
		if l == "schema: no columns" {
			t.listedAll = true
			return nil
		}
		m := schemaListRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		t.declared, _ = strconv.Atoi(m[1])
		body := m[2]
		more := moreColsRE.FindStringIndex(body)
		if more != nil {
			body = body[:more[0]]
		}
		items, err := splitTop(body, ", ")
		if err != nil {
			return fmt.Errorf("schema line %q: %w", l, err)
		}
		for _, it := range items {
			name, rest, err := readName(it, " ")
			if err != nil {
				return fmt.Errorf("schema item %q: %w", it, err)
			}
			t.listed = append(t.listed, dune.Column{Name: name, Type: rest})
		}
		t.listedAll = more == nil
		if t.declared > 0 && t.listedAll && t.declared != len(t.listed) {
			return fmt.Errorf("schema line says %d columns and lists %d", t.declared, len(t.listed))
		}
		return nil
	}
	return nil
}

// affixItem is one declaration of the affix line: a column (by name) or
// every column of a type, and its pattern split at the *.
type affixItem struct {
	name, typ        string
	prefix, suffix   string
	every            bool
	matchedAnyColumn bool
}

// parseAffixes reads "name=pattern, every TYPE column=pattern, …".
func parseAffixes(s string) ([]affixItem, error) {
	var out []affixItem
	for s != "" {
		var it affixItem
		if strings.HasPrefix(s, `"`) {
			name, rest, err := readName(s, "=")
			if err != nil {
				return nil, err
			}
			it.name, s = name, rest
		} else {
			eq := strings.IndexByte(s, '=')
			if eq < 0 {
				return nil, fmt.Errorf("no = in %q", s)
			}
			key := s[:eq]
			if m := everyTypeRE.FindStringSubmatch(key); m != nil {
				it.typ, it.every = m[1], true
			} else {
				it.name = key
			}
			s = s[eq+1:]
		}
		pat := s
		if i := strings.Index(s, ", "); i >= 0 {
			pat, s = s[:i], s[i+2:]
		} else {
			s = ""
		}
		star := strings.Index(pat, "*")
		if star < 0 || strings.Count(pat, "*") != 1 {
			return nil, fmt.Errorf("pattern %q needs exactly one *", pat)
		}
		it.prefix, it.suffix = pat[:star], pat[star+1:]
		out = append(out, it)
	}
	return out, nil
}

// fill puts each affix pattern's common part back around its columns'
// non-NULL cells.
func (t *readTable) fill(items []affixItem) error {
	for i := range items {
		it := &items[i]
		for c, col := range t.cols {
			if it.every && col.Type != it.typ || !it.every && col.Name != it.name {
				continue
			}
			it.matchedAnyColumn = true
			for _, r := range t.rows {
				if !r[c].null {
					r[c].text = it.prefix + r[c].text + it.suffix
				}
			}
		}
		if !it.matchedAnyColumn {
			what := it.name
			if it.every {
				what = "every " + it.typ + " column"
			}
			return fmt.Errorf("the affix line names %q, which is no column of the table", what)
		}
	}
	return nil
}

// parseConsts reads "name (type)=value, …", or tersely "name=value, …"
// (the type left out): names as the schema line quotes them, values as CSV
// fields, NULL as ∅. A terse constant's type is empty.
func parseConsts(s string) ([]tableConst, error) {
	var out []tableConst
	for s != "" {
		sep := " ("
		if eq, paren := nameEnd(s, "="), nameEnd(s, " ("); eq >= 0 && (paren < 0 || eq < paren) {
			sep = "="
		}
		name, rest, err := readName(s, sep)
		if err != nil {
			return nil, err
		}
		k := tableConst{col: dune.Column{Name: name}}
		if sep == " (" {
			end := strings.Index(rest, ")=")
			if end < 0 {
				return nil, fmt.Errorf("no \")=\" after %q", name)
			}
			k.col.Type = rest[:end]
			rest = rest[end+2:]
		}
		if strings.HasPrefix(rest, `"`) {
			text, n, err := readField(rest)
			if err != nil {
				return nil, err
			}
			k.cell = tableCell{text: text}
			rest = rest[n:]
		} else {
			v := rest
			if i := strings.IndexByte(rest, ','); i >= 0 {
				v = rest[:i]
			}
			rest = rest[len(v):]
			k.cell = tableCell{text: v, null: v == nullMark}
			if v == "" {
				return nil, fmt.Errorf("no value for %q", name)
			}
		}
		out = append(out, k)
		switch {
		case rest == "":
		case strings.HasPrefix(rest, ", "):
			rest = rest[2:]
			if rest == "" {
				return nil, errors.New("a trailing \", \"")
			}
		default:
			return nil, fmt.Errorf("unexpected %q after the value of %q", rest, name)
		}
		s = rest
	}
	return out, nil
}

// nameEnd is where sep follows the column name at the start of s (after
// its closing quote when Go-quoted), or -1.
func nameEnd(s, sep string) int {
	if strings.HasPrefix(s, `"`) {
		q, err := strconv.QuotedPrefix(s)
		if err != nil || !strings.HasPrefix(s[len(q):], sep) {
			return -1
		}
		return len(q)
	}
	return strings.Index(s, sep)
}

// readName reads a column name at the start of s, Go-quoted or up to sep,
// and returns it and what follows sep.
func readName(s, sep string) (name, rest string, err error) {
	if strings.HasPrefix(s, `"`) {
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			return "", "", fmt.Errorf("bad quoted name in %q", s)
		}
		name, _ = strconv.Unquote(q)
		s = s[len(q):]
		if !strings.HasPrefix(s, sep) {
			return "", "", fmt.Errorf("no %q after the name %s", sep, q)
		}
		return name, s[len(sep):], nil
	}
	i := strings.Index(s, sep)
	if i <= 0 {
		return "", "", fmt.Errorf("no name before %q in %q", sep, s)
	}
	return s[:i], s[i+len(sep):], nil
}

// readField reads one double-quoted CSV field at the start of s; n is the
// bytes it took.
func readField(s string) (text string, n int, err error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '"' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '"' {
			b.WriteByte('"')
			i++
			continue
		}
		return b.String(), i + 1, nil
	}
	return "", 0, errors.New("an unterminated quoted field")
}

// expandTypes reads a types list: comma-separated types (a type may hold
// parentheses, decimal(38,0)), "T×k" for a run of k, and "(T,…)×k then
// T,…" for a list that repeats one sequence.
func expandTypes(s string) ([]string, error) {
	var out []string
	if s == "" {
		return nil, errors.New("an empty types list")
	}
	main, tail, hasTail := strings.Cut(s, " then ")
	if strings.HasPrefix(main, "(") {
		x := strings.LastIndex(main, ")×")
		if x < 0 {
			return nil, fmt.Errorf("types %q: a group without ×k", s)
		}
		k, err := strconv.Atoi(main[x+len(")×"):])
		if err != nil || k < 1 {
			return nil, fmt.Errorf("types %q: bad repeat count", s)
		}
		seq, err := expandRuns(main[1:x])
		if err != nil {
			return nil, err
		}
		for range k {
			out = append(out, seq...)
		}
		if hasTail {
			rest, err := expandRuns(tail)
			if err != nil {
				return nil, err
			}
			out = append(out, rest...)
		}
		return out, nil
	}
	if hasTail {
		return nil, fmt.Errorf("types %q: \"then\" without a repeated group", s)
	}
	return expandRuns(s)
}

// expandRuns reads "T,T×k,…" (commas inside parentheses belong to a type).
func expandRuns(s string) ([]string, error) {
	items, err := splitTop(s, ",")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, it := range items {
		typ, count, found := strings.Cut(it, "×")
		k := 1
		if found {
			if k, err = strconv.Atoi(count); err != nil || k < 1 {
				return nil, fmt.Errorf("type run %q: bad count", it)
			}
		}
		if typ == "" {
			return nil, fmt.Errorf("types %q: an empty type", s)
		}
		for range k {
			out = append(out, typ)
		}
	}
	return out, nil
}

// splitTop splits s at sep outside parentheses and double quotes.
func splitTop(s, sep string) ([]string, error) {
	var out []string
	depth, start := 0, 0
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("unbalanced ) in %q", s)
			}
		case depth == 0 && strings.HasPrefix(s[i:], sep):
			out = append(out, s[start:i])
			start = i + len(sep)
			i += len(sep) - 1
		}
	}
	if depth != 0 || inQuote {
		return nil, fmt.Errorf("unbalanced ( or \" in %q", s)
	}
	return append(out, s[start:]), nil
}

// csvField is one CSV field and whether it was quoted (a quoted empty
// field is the empty string, an unquoted one NULL).
type csvField struct {
	text   string
	quoted bool
}

// parseCSV reads RFC 4180 records separated by \n; limit > 0 stops after
// that many records (what follows them is not read), otherwise every record
// to the end is read. A final newline ends the last record, it starts none.
func parseCSV(s string, limit int) ([][]csvField, error) {
	var recs [][]csvField
	var rec []csvField
	i := 0
	for {
		if limit > 0 && len(recs) == limit {
			return recs, nil
		}
		if i >= len(s) {
			return recs, nil
		}
		// one field
		var f csvField
		if s[i] == '"' {
			text, n, err := readField(s[i:])
			if err != nil {
				return nil, fmt.Errorf("record %d: %w", len(recs), err)
			}
			f = csvField{text: text, quoted: true}
			i += n
			if i < len(s) && s[i] != ',' && s[i] != '\n' {
				return nil, fmt.Errorf("record %d: %q after a closing quote", len(recs), s[i])
			}
		} else {
			j := i
			for j < len(s) && s[j] != ',' && s[j] != '\n' {
				if s[j] == '"' {
					return nil, fmt.Errorf("record %d: a quote inside an unquoted field", len(recs))
				}
				j++
			}
			f = csvField{text: s[i:j]}
			i = j
		}
		rec = append(rec, f)
		if i < len(s) && s[i] == ',' {
			i++
			if i == len(s) {
				rec = append(rec, csvField{})
				recs = append(recs, rec)
				return recs, nil
			}
			continue
		}
		recs = append(recs, rec)
		rec = nil
		if i < len(s) { // a newline
			i++
		}
	}
}

// splitLines splits s into lines and the byte offset of each.
func splitLines(s string) ([]string, []int) {
	var lines []string
	var offs []int
	for start := 0; start <= len(s); {
		end := strings.IndexByte(s[start:], '\n')
		offs = append(offs, start)
		if end < 0 {
			lines = append(lines, s[start:])
			break
		}
		lines = append(lines, s[start:start+end])
		start += end + 1
	}
	return lines, offs
}

func atoiCommas(s string) int {
	n, _ := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
	return n
}
