package main

import "runtime/debug"

// version is set at build time: -ldflags "-X main.version=...". A binary
// built without it (go install github.com/dune-mcp/dune-mcp@v1.2.3, go build)
// reports what its build info says instead; see buildVersion.
var version = "dev"

// buildVersion is the version to report: the stamped one when there is one,
// else the module version `go install path@version` records (v1.2.3), else
// the VCS revision `go build` in a checkout records (dev+abc1234[-dirty]),
// else "dev".
func buildVersion(stamped string, info *debug.BuildInfo) string {
	if stamped != "" && stamped != "dev" {
		return stamped
	}
	if info == nil {
		return "dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return "dev"
	}
	return "dev+" + rev + dirty
}

func init() {
	info, _ := debug.ReadBuildInfo()
	version = buildVersion(version, info)
}
