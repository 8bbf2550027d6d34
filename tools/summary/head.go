package summary

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
)

// The age of a result ("3 h ago") changes with the time of the call; what a
// page shows must not. The head is therefore laid out, planned and checked
// against the budget with ageSlot, an age phrase of the highest token cost
// any age phrase has (see ago), and the real age takes its place in the
// final text only: the rows shown and everything cut are the same whenever
// the same page is rendered, and the text differs only in the age phrase.
const ageSlot = "999 days ago"

const (
	stampFull    = "2006-01-02 15:04:05 UTC"
	stampCompact = "2006-01-02 15:04 UTC"
	expiryFull   = "2006-01-02 15:04 UTC"
)

// running reports whether the page's execution has not finished yet.
func (f *frame) running() bool {
	return f.p.State == dune.StatePending || f.p.State == dune.StateExecuting
}

// waiting reports whether the page is one of an execution that has not
// finished: no columns and no rows yet, only the state (and a cursor to
// come back with).
func (f *frame) waiting() bool {
	return f.running() && len(f.cols) == 0 && len(f.p.Rows) == 0
}

// cost returns the execution's cost in credits when this call ran the
// query and the cost is known (a finite number).
func (f *frame) cost() (float64, bool) {
	c := f.p.ExecutionCostCredits
	if !f.p.Executed || c == nil || math.IsNaN(*c) || math.IsInf(*c, 0) {
		return 0, false
	}
	return *c, true
}

// prepareHead renders (1), the provenance, with the filters and the
// frame's notes, in full and terse form, each with ageSlot standing for
// the age (see withAge).
func (t *textView) prepareHead() {
	p, f := t.f.p, t.f
	var b, c strings.Builder // full, and terse: one line, a short demo mark
	t.ageAt = [2]int{-1, -1}
	t.age, t.ageFrom = "", time.Time{}

	// (1) provenance
	if p.Tool != "" {
		b.WriteString(p.Tool)
		b.WriteString(" · ")
	}
	fmt.Fprintf(&b, "query %d · execution %s · %s\n", p.QueryID, orDash(p.ExecutionID), orDash(string(p.State)))
	fmt.Fprintf(&c, "query %d · execution %s · %s · ", p.QueryID, orDash(p.ExecutionID), orDash(strings.TrimPrefix(string(p.State), "QUERY_STATE_")))
	when := func(w *strings.Builder, compact bool, ended, submitted, none string) {
		stamp := stampFull
		if compact {
			stamp = stampCompact
		}
		var at time.Time
		switch {
		case p.EndedAt != nil && !p.EndedAt.IsZero():
			at = *p.EndedAt
			w.WriteString(ended)
		case !p.SubmittedAt.IsZero():
			at = p.SubmittedAt
			w.WriteString(submitted)
		default:
			w.WriteString(none)
			return
		}
		fmt.Fprintf(w, "%s (", at.UTC().Format(stamp))
		t.ageAt[b2i(compact)] = w.Len()
		w.WriteString(ageSlot)
		w.WriteByte(')')
		t.age, t.ageFrom = ago(at, f.now), at
	}
	switch {
	case f.running():
		when(&b, false, "ended ", "not ended yet: submitted ", "not ended yet")
		when(&c, true, "ended ", "submitted ", "not ended yet")
	default:
		when(&b, false, "ended ", "ended: not reported; submitted ", "ended: not reported")
		when(&c, true, "ended ", "end not reported; submitted ", "end not reported")
	}
	if !p.ExpiresAt.IsZero() {
		fmt.Fprintf(&b, " · result expires %s", p.ExpiresAt.UTC().Format(expiryFull))
	}
	b.WriteByte('\n')
	c.WriteByte('\n')
	if line := t.runLine(false); line != "" {
		b.WriteString(line)
		c.WriteString(t.runLine(true))
	}
	if p.Demo {
		b.WriteString("⚠ DEMO DATA from the embedded emulator, not Dune: synthetic rows for trying the tools.\n")
		c.WriteString("⚠ DEMO DATA (emulator, not Dune)\n")
	}
	provLen := b.Len()
	if p.Filters != "" || p.SortBy != "" {
		var parts []string
		if p.Filters != "" {
			f, _ := shorten(p.Filters, noteLimit, noteLimit-20)
			parts = append(parts, "filters: "+f)
		}
		if p.SortBy != "" {
			f, _ := shorten(p.SortBy, noteLimit, noteLimit-20)
			parts = append(parts, "sort_by: "+f)
		}
		b.WriteString(strings.Join(parts, " · "))
		b.WriteByte('\n')
	}
	for _, n := range f.notes {
		n, _ = shorten(strings.TrimSpace(n), noteLimit, noteLimit-20)
		b.WriteString("note: ")
		b.WriteString(n)
		b.WriteByte('\n')
	}
	t.head = b.String()
	t.headCompact = c.String() + t.head[provLen:]
}

// runLine says whether this call ran the query (and what that cost) and
// how much of the caller's datapoint budget is spent; "" when there is
// nothing to say.
func (t *textView) runLine(compact bool) string {
	p := t.f.p
	var parts []string
	if p.Executed {
		s := "ran the query now"
		if t.f.running() {
			s = "started the query now"
		}
		if c, ok := t.f.cost(); ok {
			if compact {
				s += fmt.Sprintf(" (%s credits)", fmtFloat(c))
			} else {
				s += fmt.Sprintf(" (cost %s credits)", fmtFloat(c))
			}
		}
		parts = append(parts, s)
	}
	if u := p.Budget; u != nil {
		if compact {
			parts = append(parts, fmt.Sprintf("budget: %s of %s datapoints left", commas64(u.Left), commas64(u.Limit)))
		} else {
			parts = append(parts, fmt.Sprintf("budget: %s of %s datapoints spent, %s left", commas64(u.Spent), commas64(u.Limit), commas64(u.Left)))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, " · ") + "\n"
}

// withAge returns text (rendered with the full or compact head) with the
// real age in place of ageSlot, and its token count, given tokens, the
// count of text. An age phrase never costs more than ageSlot (the tests
// check every one); should one do so all the same, the age is left out,
// so that the text never costs more than the one checked against the
// budget. Text in which the slot is not whole (cut) is returned as is.
func (t *textView) withAge(text string, compact bool, tokens int) (string, int) {
	at := t.ageAt[b2i(compact)]
	if at < 0 || at > len(text) || !strings.HasPrefix(text[at:], ageSlot) {
		return text, tokens
	}
	// The line is a unit of the tokenizer's pre-splitting (it starts after
	// a newline, ends with one or with the text), so the text's count
	// changes by the line's.
	start := strings.LastIndexByte(text[:at], '\n') + 1
	end := len(text)
	if i := strings.IndexByte(text[at:], '\n'); i >= 0 {
		end = at + i + 1
	}
	line := text[start:end]
	was := CountTokens(line)
	for _, age := range []string{t.age, ""} {
		aged := strings.Replace(line, ageSlot, age, 1)
		if age == "" {
			aged = strings.Replace(line, " ("+ageSlot+")", "", 1)
		}
		if now := CountTokens(aged); now <= was {
			return text[:start] + aged + text[end:], tokens - was + now
		}
	}
	return text, tokens // not reached: the line without the age is cheaper
}
