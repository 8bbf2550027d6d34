package schemas

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeGetLatestResult(t *testing.T) {
	intp := func(n int) *int { return &n }
	cases := []struct {
		name string
		args string
		want GetLatestResultParams
	}{
		{"integer id", `{"query_id": 1234}`, GetLatestResultParams{QueryID: 1234}},
		{"string id", `{"query_id": "1234"}`, GetLatestResultParams{QueryID: 1234}},
		{"numeric strings everywhere", `{"query_id":"7","limit":"50","offset":"10","max_tokens":"2000","allow_partial_results":"true"}`,
			func() GetLatestResultParams {
				p := GetLatestResultParams{QueryID: 7}
				p.Limit, p.Offset, p.MaxTokens, p.AllowPartialResults = 50, 10, intp(2000), true
				return p
			}()},
		{"nulls are absent", `{"query_id":1,"limit":null,"filters":null}`, GetLatestResultParams{QueryID: 1}},
		{"columns as one string", `{"query_id":1,"columns":"a, b,c"}`,
			func() GetLatestResultParams {
				p := GetLatestResultParams{QueryID: 1}
				p.Columns = []string{"a", "b", "c"}
				return p
			}()},
		{"query parameters coerced to strings", `{"query_id":1,"query_parameters":{"n":10,"on":true,"s":"x"}}`,
			func() GetLatestResultParams {
				p := GetLatestResultParams{QueryID: 1}
				p.QueryParameters = map[string]string{"n": "10", "on": "true", "s": "x"}
				return p
			}()},
		{"max_tokens out of range is kept for clamping", `{"query_id":1,"max_tokens":999999}`,
			GetLatestResultParams{QueryID: 1, Budget: Budget{MaxTokens: intp(999999)}}},
		{"integral float", `{"query_id":1,"limit":100.0}`,
			func() GetLatestResultParams {
				p := GetLatestResultParams{QueryID: 1}
				p.Limit = 100
				return p
			}()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got GetLatestResultParams
			if err := Decode(GetLatestResult, []byte(c.args), &got); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	cases := []struct {
		tool, args string
		arg        string   // ArgError.Arg
		contains   []string // message fragments
	}{
		{GetLatestResult, `{"query_id":1,"limt":5}`, "limt", []string{`unknown argument "limt"`, "valid arguments: query_id, limit, offset"}},
		{GetLatestResult, `{"Query_ID":1}`, "Query_ID", []string{`did you mean "query_id"`}},
		{GetLatestResult, `{}`, "query_id", []string{`missing required argument "query_id"`}},
		{GetLatestResult, `{"query_id":null}`, "query_id", []string{"missing required"}},
		{GetLatestResult, `{"query_id":0}`, "query_id", []string{"query_id must be an integer ≥ 1", "got 0"}},
		{GetLatestResult, `{"query_id":"abc"}`, "query_id", []string{"query_id must be an integer"}},
		{GetLatestResult, `{"query_id":1.5}`, "query_id", []string{"query_id must be an integer"}},
		{GetLatestResult, `{"query_id":1,"limit":0}`, "limit", []string{"limit must be an integer from 1 to 100000", "got 0"}},
		{GetLatestResult, `{"query_id":1,"limit":100001}`, "limit", []string{"from 1 to 100000"}},
		{GetLatestResult, `{"query_id":1,"offset":-1}`, "offset", []string{"offset must be an integer ≥ 0"}},
		{GetLatestResult, `{"query_id":1,"columns":[1,2]}`, "columns", []string{"array of strings"}},
		{GetLatestResult, `{"query_id":1,"columns":["a",""]}`, "columns", []string{"columns[1] is empty"}},
		{GetLatestResult, `{"query_id":1,"filters":5}`, "filters", []string{"filters must be a string"}},
		{GetLatestResult, `{"query_id":1,"filters":"` + strings.Repeat("x", 4001) + `"}`, "filters", []string{"at most 4000"}},
		{GetLatestResult, `{"query_id":1,"allow_partial_results":"maybe"}`, "allow_partial_results", []string{"true or false"}},
		{GetLatestResult, `{"query_id":1,"query_parameters":{"a":[1]}}`, "query_parameters", []string{"query_parameters.a"}},
		{GetLatestResult, `{"query_id":1,"max_tokens":"lots"}`, "max_tokens", []string{"max_tokens must be an integer"}},
		{GetLatestResult, `[1]`, "", []string{"must be a JSON object"}},
		{GetLatestResult, `{"query_id":`, "", []string{"not valid JSON"}},
		{NextPage, `{}`, "cursor", []string{`missing required argument "cursor"`}},
		{NextPage, `{"cursor":""}`, "cursor", []string{"cursor must not be empty"}},
		{NextPage, `{"cursor":"x","offset":3}`, "offset", []string{`unknown argument "offset"`, "valid arguments: cursor, limit, max_tokens"}},
		{SampleResult, `{"query_id":1}`, "sample_count", []string{`missing required argument "sample_count"`}},
		{SampleResult, `{"query_id":1,"sample_count":10,"limit":5}`, "limit", []string{"cannot be combined with limit", "get_latest_result"}},
		{SampleResult, `{"query_id":1,"sample_count":0}`, "sample_count", []string{"sample_count must be an integer from 1"}},
	}
	for _, c := range cases {
		t.Run(c.tool+" "+c.args[:min(len(c.args), 40)], func(t *testing.T) {
			var dst any
			switch c.tool {
			case GetLatestResult:
				dst = &GetLatestResultParams{}
			case NextPage:
				dst = &NextPageParams{}
			default:
				dst = &SampleResultParams{}
			}
			err := Decode(c.tool, []byte(c.args), dst)
			var ae *ArgError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want *ArgError", err)
			}
			if ae.Arg != c.arg {
				t.Errorf("Arg = %q, want %q", ae.Arg, c.arg)
			}
			for _, f := range c.contains {
				if !strings.Contains(ae.Msg, f) {
					t.Errorf("message %q lacks %q", ae.Msg, f)
				}
			}
			if len(ae.Msg) > MaxMessageLen {
				t.Errorf("message is %d bytes", len(ae.Msg))
			}
		})
	}
}

func TestDecodeLongUnknownKeyIsBounded(t *testing.T) {
	var p GetLatestResultParams
	err := Decode(GetLatestResult, []byte(`{"query_id":1,"`+strings.Repeat("k", 1000)+`":1}`), &p)
	if err == nil || len(err.Error()) > MaxMessageLen {
		t.Fatalf("err = %v (len %d)", err, len(err.Error()))
	}
}

func TestDecodeUnknownTool(t *testing.T) {
	var p GetLatestResultParams
	err := Decode("nope", []byte(`{}`), &p)
	var ae *ArgError
	if err == nil || errors.As(err, &ae) {
		t.Fatalf("err = %v, want a non-argument error", err)
	}
}
