package dune

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Validate checks o the way Dune would, so that a bad combination fails
// before any request (and any credit) is spent. It returns a
// *ValidationError whose Field is the parameter's JSON name:
//   - limit, offset and sample_count must not be negative;
//   - sample_count cannot be combined with limit, offset or filters;
//   - column names must not be empty or blank, and must not contain a comma
//     (the list is sent comma-joined, so such a name would silently select
//     other columns);
//   - query parameter names must not be empty or blank, and there may be
//     at most MaxQueryParameters of them, MaxQueryParametersBytes in all.
//
// Whether query parameters are allowed depends on the endpoint; the client
// checks that separately.
func (o Options) Validate() error {
	switch {
	case o.Limit < 0:
		return &ValidationError{Field: "limit", Reason: "must not be negative"}
	case o.Offset < 0:
		return &ValidationError{Field: "offset", Reason: "must not be negative"}
	case o.SampleCount < 0:
		return &ValidationError{Field: "sample_count", Reason: "must not be negative"}
	}
	if o.SampleCount > 0 {
		var with []string
		if o.Limit > 0 {
			with = append(with, "limit")
		}
		if o.Offset > 0 {
			with = append(with, "offset")
		}
		if strings.TrimSpace(o.Filters) != "" {
			with = append(with, "filters")
		}
		if len(with) > 0 {
			return &ValidationError{Field: "sample_count", Reason: "cannot be combined with " + strings.Join(with, ", ") + " (Dune samples the whole result)"}
		}
	}
	for i, c := range o.Columns {
		if strings.TrimSpace(c) == "" {
			return &ValidationError{Field: "columns", Reason: fmt.Sprintf("column %d is empty", i+1)}
		}
		if strings.Contains(c, ",") {
			return &ValidationError{Field: "columns", Reason: fmt.Sprintf("column %d (%q) contains a comma, which the columns parameter cannot carry", i+1, c)}
		}
	}
	return checkParamNames(o.QueryParameters)
}

// Bounds on query parameters: a saved query has a handful, and they travel
// in the URL of a results request, where servers and proxies cap the
// length (and Go's own url.ParseQuery stops at 10,000 pairs).
const (
	// MaxQueryParameters is the most query parameters one request takes.
	MaxQueryParameters = 100
	// MaxQueryParametersBytes bounds the names and values of one
	// request's query parameters together, in bytes before encoding.
	MaxQueryParametersBytes = 16 << 10
)

// checkParamNames refuses empty or blank query parameter names, and more
// parameters, or more bytes of them, than the bounds above.
func checkParamNames(params map[string]string) error {
	if len(params) > MaxQueryParameters {
		return &ValidationError{Field: "query_parameters", Reason: fmt.Sprintf("%d parameters, at most %d are accepted", len(params), MaxQueryParameters)}
	}
	size := 0
	for name, v := range params {
		if strings.TrimSpace(name) == "" {
			return &ValidationError{Field: "query_parameters", Reason: "parameter name is empty"}
		}
		size += len(name) + len(v)
	}
	if size > MaxQueryParametersBytes {
		return &ValidationError{Field: "query_parameters", Reason: fmt.Sprintf("names and values total %d bytes, at most %d are accepted", size, MaxQueryParametersBytes)}
	}
	return nil
}

// checkQueryID refuses query ids Dune cannot have.
func checkQueryID(id int64) error {
	if id < 1 {
		return &ValidationError{Field: "query_id", Reason: "must be a positive integer"}
	}
	return nil
}

// checkExecutionID refuses execution ids that are empty or that
// validExecutionID would not put in a URL path.
func checkExecutionID(id string) error {
	if strings.TrimSpace(id) == "" {
		return &ValidationError{Field: "execution_id", Reason: "is empty"}
	}
	if !validExecutionID(id) {
		return &ValidationError{Field: "execution_id", Reason: "must be a Dune execution id such as 01HPFJ7VSFXPTA8WPMDKBXE167 (letters and digits)"}
	}
	return nil
}

// QueryString returns the query string the client sends for o, keys
// sorted as by url.Values.Encode ("" when every option is unset). It does
// not validate o. Emulators and tests use it to send exactly what the
// client would.
func (o Options) QueryString() string { return o.values().Encode() }

// values encodes o as Dune's query string. Unset options are omitted; blank
// filters and sort_by count as unset. It assumes o is valid.
func (o Options) values() url.Values {
	q := url.Values{}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Offset > 0 {
		q.Set("offset", strconv.Itoa(o.Offset))
	}
	if len(o.Columns) > 0 {
		q.Set("columns", strings.Join(o.Columns, ","))
	}
	if strings.TrimSpace(o.Filters) != "" {
		q.Set("filters", o.Filters)
	}
	if strings.TrimSpace(o.SortBy) != "" {
		q.Set("sort_by", o.SortBy)
	}
	if o.SampleCount > 0 {
		q.Set("sample_count", strconv.Itoa(o.SampleCount))
	}
	if o.AllowPartialResults {
		q.Set("allow_partial_results", "true")
	}
	if o.IgnoreMaxCreditsPerRequest {
		q.Set("ignore_max_credits_per_request", "true")
	}
	for name, v := range o.QueryParameters {
		q.Set("params."+name, v)
	}
	return q
}

// validExecutionID reports whether id can be put in a URL path as is: Dune
// execution ids are ULIDs, so anything beyond letters, digits, '-' and '_'
// (slashes, dots, spaces, '?') is refused rather than escaped into a
// different path.
func validExecutionID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
