package summary

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
)

var testExpires = time.Date(2024, 5, 12, 21, 5, 50, 199442351, time.UTC)

// freshPage is a page of rows from an execution this call ran, with a
// budget configured.
func freshPage(nRows int) Page {
	p := dexPage(nRows, 100000)
	cost := 12.5
	p.ExpiresAt, p.Executed, p.ExecutionCostCredits = testExpires, true, &cost
	p.Budget = &BudgetUse{Spent: 1200, Left: 48800, Limit: 50000}
	return p
}

// waitingPage is what a tool shows when the execution it started has not
// finished: the state, a cursor to come back with, and a note.
func waitingPage(state dune.State) Page {
	return Page{
		Tool: "get_latest_result", QueryID: 3426636, ExecutionID: "01HWAIT0000000000000000000", State: state,
		SubmittedAt: testEnded().Add(-40 * time.Second), Executed: true, Datapoints: 0,
		Budget: &BudgetUse{Spent: 1200, Left: 48800, Limit: 50000},
		Notes:  []string{"The query is still running (started by this call); call next_page with next_cursor in a few seconds to get its rows."},
		Now:    testNow,
	}
}

const waitCursor = "AQUBwaitkZ3xQ8vLm2TnkZ3xQ8vLm2Tn_0_Hk3J9aQ2xW8pL0mN4bV7cR1t"

// Every age phrase costs at most ageSlot, alone and in the head.
func TestAgePhrasesNeverCostlier(t *testing.T) {
	phrases := map[string]bool{}
	now := testNow
	for m := -2 * 60; m < 48*60; m++ {
		phrases[ago(now.Add(-time.Duration(m)*time.Minute), now)] = true
	}
	for d := range 1100 {
		phrases[ago(now.AddDate(0, 0, -d), now)] = true
	}
	for y := range 3000 {
		phrases[ago(now.AddDate(-y, 0, 0), now)] = true
	}
	phrases[ago(time.Time{}.Add(time.Hour), now)] = true
	phrases[ago(now.AddDate(200, 0, 0), now)] = true
	for _, want := range []string{"in the future", "just now", "59 min ago", "47 h ago", "999 days ago", "2 years ago", "999 years ago", "ages ago"} {
		if !phrases[want] {
			t.Errorf("no age renders as %q", want)
		}
	}
	slot := CountTokens(ageSlot)
	line := func(age string) int {
		return CountTokens("ended 2024-02-12 21:05:50 UTC (" + age + ") · result expires 2024-05-12 21:05 UTC\n")
	}
	for ph := range phrases {
		if CountTokens(ph) > slot || line(ph) > line(ageSlot) {
			t.Errorf("age %q costs %d tokens (%d in the head line), the slot %d (%d)", ph, CountTokens(ph), line(ph), slot, line(ageSlot))
		}
	}
}

// The age of a result does not change what its page shows: only the age
// phrase differs between renderings at different times.
func TestAgeDoesNotChangeLayout(t *testing.T) {
	submitted := dexPage(40, 100000)
	submitted.EndedAt, submitted.SubmittedAt = nil, *testEnded()
	pages := []namedPage{
		{"fresh", freshPage(400)},
		{"dex", dexPage(300, 100000)},
		{"submitted", submitted},
		{"wide", widePage(30, 120)},
		{"longtext", longTextPage(12, 4096)},
		{"waiting", waitingPage(dune.StateExecuting)},
	}
	offsets := []time.Duration{0, 30 * time.Second, 59 * time.Second, 5 * time.Minute, 3 * time.Hour, 48 * time.Hour, 400 * 24 * time.Hour}
	for _, d := range pages {
		for _, budget := range []int{256, 1000, 2000, 8000} {
			t.Run(fmt.Sprintf("%s/%d", d.name, budget), func(t *testing.T) {
				var first Output
				var firstText, firstJS string
				for i, off := range offsets {
					p := d.page
					at := p.SubmittedAt
					if p.EndedAt != nil {
						at = *p.EndedAt
					}
					p.Now = at.Add(off)
					out, err := Summarize(p, budget, waitingCursor(p))
					if err != nil {
						t.Fatalf("age %v: %v", off, err)
					}
					if tt := CountTokens(out.Text); tt > budget || tt != out.TextTokens {
						t.Errorf("age %v: text has %d tokens (reported %d), budget %d", off, tt, out.TextTokens, budget)
					}
					js := structJSON(t, out.Structured)
					if st := CountTokens(js); st > budget || st != out.StructuredTokens {
						t.Errorf("age %v: structured has %d tokens (reported %d), budget %d", off, st, out.StructuredTokens, budget)
					}
					age := " (" + ago(at, p.Now) + ")"
					if !strings.Contains(out.Text, age) {
						t.Fatalf("age %v: text lacks %q:\n%s", off, age, out.Text)
					}
					text := strings.Replace(out.Text, age, " (AGE)", 1)
					if i == 0 {
						first, firstText, firstJS = out, text, js
						continue
					}
					if out.ShownRows != first.ShownRows {
						t.Errorf("age %v: %d rows shown, %d at age 0", off, out.ShownRows, first.ShownRows)
					}
					if js != firstJS {
						t.Errorf("age %v: structured differs:\n%s\n%s", off, js, firstJS)
					}
					if text != firstText {
						t.Errorf("age %v: text differs in more than the age:\n%s\n---\n%s", off, text, firstText)
					}
				}
			})
		}
	}
}

// waitingCursor is testCursor, and for a page with nothing yet a cursor
// to come back with.
func waitingCursor(p Page) CursorFunc {
	if len(p.Columns) == 0 && len(p.Rows) == 0 && p.Executed {
		return func(int) string { return waitCursor }
	}
	return testCursor(p)
}

// Both views say when the result expires, that this call ran the query and
// what it cost, and how much of the datapoint budget is spent; tersely at
// small budgets, where the expiry (90 days away on Dune) is left out.
func TestFreshResultSaid(t *testing.T) {
	p := freshPage(20)
	for _, c := range []struct {
		budget int
		want   []string
	}{
		{8000, []string{
			"ended 2024-02-12 21:05:50 UTC (2 h ago) · result expires 2024-05-12 21:05 UTC\n",
			"ran the query now (cost 12.5 credits) · budget: 1,200 of 50,000 datapoints spent, 48,800 left\n",
		}},
		{256, []string{
			" · ended 2024-02-12 21:05 UTC (2 h ago)\n",
			"ran the query now (12.5 credits) · budget: 48,800 of 50,000 datapoints left\n",
		}},
	} {
		out := mustSummarize(t, p, c.budget)
		for _, w := range c.want {
			if !strings.Contains(out.Text, w) {
				t.Errorf("budget %d: text lacks %q:\n%s", c.budget, w, out.Text)
			}
		}
		st := out.Structured
		wantExpiry := "2024-05-12T21:05:50Z"
		if c.budget < 1000 {
			wantExpiry = ""
		}
		if st.ExpiresAt != wantExpiry || !st.Executed || st.ExecutionCostCredits == nil || *st.ExecutionCostCredits != 12.5 ||
			st.DatapointsSpent == nil || *st.DatapointsSpent != 1200 || st.DatapointsLeft == nil || *st.DatapointsLeft != 48800 {
			t.Errorf("budget %d: structured %s", c.budget, structJSON(t, st))
		}
	}

	// A budget of which nothing is spent yet still shows; a cost that is
	// not a number, or of no execution of this call, does not.
	p.Budget = &BudgetUse{Limit: 50000, Left: 50000}
	nan := math.NaN()
	p.ExecutionCostCredits = &nan
	out := mustSummarize(t, p, 8000)
	js := structJSON(t, out.Structured)
	if !strings.Contains(js, `"datapoints_spent":0,"datapoints_left":50000`) || strings.Contains(js, "execution_cost_credits") ||
		!strings.Contains(out.Text, "ran the query now · budget: 0 of 50,000 datapoints spent, 50,000 left\n") {
		t.Errorf("zero spent, NaN cost:\n%s\n%s", out.Text, js)
	}
	cost := 3.0
	p.Executed, p.ExecutionCostCredits = false, &cost
	out = mustSummarize(t, p, 8000)
	if js := structJSON(t, out.Structured); strings.Contains(js, "execution_cost_credits") || strings.Contains(js, `"executed"`) ||
		strings.Contains(out.Text, "credits") || strings.Contains(out.Text, "ran the query") {
		t.Errorf("cost without an execution:\n%s\n%s", out.Text, js)
	}

	// Without any of it, neither view mentions it.
	out = mustSummarize(t, dexPage(20, 100), 8000)
	js = structJSON(t, out.Structured)
	for _, k := range []string{"expires_at", "executed", "execution_cost_credits", "datapoints_spent", "datapoints_left"} {
		if strings.Contains(js, `"`+k+`"`) {
			t.Errorf("structured has %q: %s", k, js)
		}
	}
	for _, w := range []string{"expires", "ran the query", "budget:"} {
		if strings.Contains(out.Text, w) {
			t.Errorf("text has %q:\n%s", w, out.Text)
		}
	}
}

// A page of an execution that has not finished says so, with its state
// and the cursor to come back with, and no row counts that would read as
// an empty result.
func TestWaitingPage(t *testing.T) {
	for _, state := range []dune.State{dune.StatePending, dune.StateExecuting} {
		p := waitingPage(state)
		for _, budget := range []int{256, 1000, 8000} {
			out, err := Summarize(p, budget, waitingCursor(p))
			if err != nil {
				t.Fatalf("%s at %d: %v", state, budget, err)
			}
			text := out.Text
			if tt := CountTokens(text); tt > budget || tt != out.TextTokens {
				t.Errorf("%s at %d: %d text tokens (reported %d)", state, budget, tt, out.TextTokens)
			}
			short := strings.TrimPrefix(string(state), "QUERY_STATE_")
			for _, w := range []string{short, "submitted 2024-02-12 21:05", "(2 h ago)", "started the query now", "rows: none yet", "next_cursor: " + waitCursor} {
				if !strings.Contains(text, w) {
					t.Errorf("%s at %d: text lacks %q:\n%s", state, budget, w, text)
				}
			}
			for _, w := range []string{"0 rows", "0 shown", "· 0 left", "schema", "stats", "TRUNCATED", "ended 20", "not reported", "continue after the last row", "hints"} {
				if strings.Contains(text, w) {
					t.Errorf("%s at %d: text has %q:\n%s", state, budget, w, text)
				}
			}
			if budget >= 1000 && !strings.Contains(text, "note: The query is still running") {
				t.Errorf("%s at %d: note missing:\n%s", state, budget, text)
			}
			st := out.Structured
			js := structJSON(t, st)
			if CountTokens(js) > budget {
				t.Errorf("%s at %d: structured over budget", state, budget)
			}
			if !st.HasMore || st.NextCursor != waitCursor || st.State != string(state) || !st.Executed || st.ReturnedRows != 0 || truncated(st) ||
				len(st.Omitted) > 0 || st.DatapointsLeft == nil || budget >= 1000 && !slices.ContainsFunc(st.Notes, func(n string) bool { return strings.Contains(n, "still running") }) {
				t.Errorf("%s at %d: structured %s", state, budget, js)
			}
			if !strings.Contains(js, `"columns":[]`) || !strings.Contains(js, `"rows":[]`) || strings.Contains(js, "null") {
				t.Errorf("%s at %d: structured JSON must use [] not null: %s", state, budget, js)
			}
		}
	}
}
