package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"
)

func TestJSONToWriterWithRedaction(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, FormatJSON, zerolog.InfoLevel, "sk-secret-key", "bearer-tok", "")
	l.Info().Str("raw", "sk-secret-key").Str("url", "https://x/?api_key=sk-secret-key").Msg("token bearer-tok here")
	l.Debug().Msg("hidden at info")
	out := buf.String()
	if strings.Contains(out, "sk-secret-key") || strings.Contains(out, "bearer-tok") {
		t.Fatalf("secret leaked: %s", out)
	}
	if strings.Count(out, Redacted) != 3 {
		t.Errorf("want 3 redactions: %s", out)
	}
	if strings.Contains(out, "hidden at info") {
		t.Error("debug line written at info level")
	}
	var m map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &m); err != nil {
		t.Fatalf("not one JSON line: %v: %s", err, out)
	}
	if m["level"] != "info" || m["time"] == nil {
		t.Errorf("fields: %v", m)
	}
}

func TestConsoleFormatRedactsAndUsesGivenWriter(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, FormatConsole, zerolog.DebugLevel, "sk-secret-key")
	l.Debug().Str("key", "sk-secret-key").Msg("console line")
	out := buf.String()
	if !strings.Contains(out, "console line") || strings.HasPrefix(out, "{") {
		t.Fatalf("not console output: %q", out)
	}
	if strings.Contains(out, "sk-secret-key") {
		t.Fatalf("secret leaked: %s", out)
	}
}

func TestRedactorConcurrentWrites(t *testing.T) {
	var buf bytes.Buffer
	r := NewRedactor(&buf, "abcdefgh")
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if n, err := r.Write([]byte("xxabcdefghxx\n")); err != nil || n != 13 {
				t.Errorf("Write = %d, %v", n, err)
			}
		}()
	}
	wg.Wait()
	if got := strings.Count(buf.String(), "xx"+Redacted+"xx\n"); got != 50 {
		t.Errorf("%d intact redacted lines of 50:\n%s", got, buf.String())
	}
}

func TestInstallDefaultsRoutesStdlogAndSlog(t *testing.T) {
	prevFlags, prevPrefix, prevWriter, prevSlog := log.Flags(), log.Prefix(), log.Writer(), slog.Default()
	t.Cleanup(func() {
		log.SetFlags(prevFlags)
		log.SetPrefix(prevPrefix)
		log.SetOutput(prevWriter)
		slog.SetDefault(prevSlog)
	})
	var buf bytes.Buffer
	InstallDefaults(New(&buf, FormatJSON, zerolog.InfoLevel, "sekrit-value"))
	log.Printf("std line with sekrit-value")
	slog.Info("slog line", "k", "v")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", buf.String())
	}
	var std, sl map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &std); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &sl); err != nil {
		t.Fatal(err)
	}
	if std["message"] != "std line with "+Redacted || std["level"] != "warn" || std["source"] != "stdlog" {
		t.Errorf("stdlog line: %v", std)
	}
	if sl["message"] != "slog line" || sl["k"] != "v" || sl["level"] != "info" {
		t.Errorf("slog line: %v", sl)
	}
}

func TestSlogDemoteInfo(t *testing.T) {
	var buf bytes.Buffer
	zl := New(&buf, FormatJSON, zerolog.InfoLevel)
	Slog(zl, true).Info("per-request noise")
	Slog(zl, true).Warn("kept")
	if out := buf.String(); strings.Contains(out, "per-request noise") || !strings.Contains(out, "kept") {
		t.Fatalf("at info level: %q", out)
	}
	buf.Reset()
	dl := New(&buf, FormatJSON, zerolog.DebugLevel)
	s := Slog(dl, true).With("a", 1).WithGroup("g")
	s.Log(context.Background(), slog.LevelInfo, "now visible", "b", 2)
	var m map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &m); err != nil {
		t.Fatalf("%v: %q", err, buf.String())
	}
	if m["level"] != "debug" || m["message"] != "now visible" {
		t.Errorf("demoted record: %v", m)
	}
}

// Short values are not redacted: replacing "true" or "info" everywhere
// would corrupt every line (and tell the reader what the secret is).
func TestShortSecretsAreNotRedacted(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, FormatJSON, zerolog.InfoLevel, "true", "info", "1234567", "12345678")
	l.Info().Bool("demo", true).Str("id", "x12345678x").Msg("starting")
	line := bytes.TrimSpace(buf.Bytes())
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("not JSON: %v: %s", err, line)
	}
	if m["level"] != "info" || m["demo"] != true {
		t.Errorf("short secrets replaced: %s", line)
	}
	if m["id"] != "x"+Redacted+"x" {
		t.Errorf("8-byte secret not redacted: %s", line)
	}
}
