// Package filter parses and evaluates Dune's results post-processing
// languages: the WHERE-like `filters` parameter and the ORDER BY-like
// `sort_by` parameter (spec sections 4 and 5.1). The Dune emulator
// (package emulator) uses it to answer requests the way Dune does.
//
// # Filter grammar
//
//	filter    = or_expr ;
//	or_expr   = and_expr { OR and_expr } ;          AND binds tighter than OR
//	and_expr  = term { AND term } ;
//	term      = "(" or_expr ")" | predicate ;
//	predicate = column ( "=" | "!=" | "<>" | "<" | "<=" | ">" | ">=" ) literal
//	          | column IN "(" literal { "," literal } ")"
//	          | column LIKE string
//	          | column IS [ NOT ] NULL ;
//	column    = bare identifier | "double-quoted identifier" ("" escapes a quote)
//	literal   = 'string' ('' escapes a quote) | number | 0x-hex | TRUE | FALSE
//
// Keywords are case-insensitive. NOT is accepted only in IS NOT NULL: a
// leading NOT, NOT IN and NOT LIKE are rejected with an *Error of kind
// KindNotUnsupported ("The NOT operator is not supported", Dune's words).
// Function calls and SQL expressions (now() - interval '1' day) are syntax
// errors. Input is limited to MaxLength bytes and MaxDepth nested
// parentheses.
//
// # Columns
//
// A column name resolves against the result's columns: exact match first,
// then, for bare identifiers only, a case-insensitive match (an ambiguous
// case-insensitive match is an error). Quoted identifiers must match exactly.
//
// # Typed comparison
//
// Each literal is coerced once, at Parse time, to the column's Dune type:
//
//   - numeric types (tinyint, smallint, integer, bigint, real, double,
//     decimal(p,s), uint256, int256) compare as exact decimal numbers, so
//     uint256 strings beyond 2^64 and json.Number cells compare without
//     float rounding. The literal must be an unquoted number: a quoted
//     number ('1000') against a numeric column is rejected (KindTypeMismatch),
//     because Dune's documentation calls that form "Wrong" and Trino rejects
//     varchar-vs-number comparisons.
//   - timestamp and date columns: the literal is a string such as
//     '2024-03-01', '2024-03-05 15:03', '2024-03-05 15:03:01.250 UTC' or
//     RFC 3339; cells (Dune writes "2024-03-05 20:50:59.000 UTC") are parsed
//     the same way and compared chronologically. Times without a zone are UTC.
//   - varchar compares case-sensitively, by bytes (= code points).
//     A 0x literal against a varchar column compares case-insensitively.
//   - varbinary compares hex case-insensitively; the literal is 0x… or a
//     quoted '0x…' string.
//   - boolean takes TRUE/FALSE or 'true'/'false'.
//   - array, map and row columns allow only IS [NOT] NULL.
//   - columns of unknown type ("" as in the fixtures, which lack
//     column_types) are compared per cell: a cell that reads as a number
//     compares numerically with a literal that reads as one (a quoted '432'
//     included), a cell that reads as a timestamp compares chronologically,
//     anything else compares as text.
//
// SQL three-valued logic applies: a comparison, IN or LIKE with a NULL cell
// (or a cell that cannot be read as the column's type) is false, so NOT-like
// forms such as != do not match NULLs; IS NULL matches them.
//
// LIKE has Trino semantics: % matches any run of characters, _ exactly one
// character, matching is case-sensitive and there is no escape character.
//
// # Sorting
//
// ParseSort reads `col [ASC|DESC] {, col [ASC|DESC]}` (ascending by default,
// optional whitespace). Values compare with the same typed rules; NULLs sort
// last in both directions (Trino/DuckDB default, the spec's recommendation).
//
// Filters and Sorts are immutable after parsing and safe for concurrent use.
package filter
