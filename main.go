// Command dune-mcp is an MCP server that lets AI agents read Dune Analytics
// query results within a token budget.
package main

import (
	"fmt"
	"os"
)

var version = "dev"

func main() {
	fmt.Fprintln(os.Stderr, "dune-mcp", version, ": not wired yet")
	os.Exit(2)
}
