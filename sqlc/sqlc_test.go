// Package sqlc_test checks that the generated package rcpdb matches
// sqlc.yaml, the migrations and queries/*.sql.
package sqlc_test

import (
	"context"
	"errors"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGeneratedCodeIsFresh fails when someone changed the SQL (or sqlc.yaml)
// without running `make sqlc`, or when the generated files were hand-edited.
func TestGeneratedCodeIsFresh(t *testing.T) {
	bin := sqlcBinary(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "diff", "-f", "sqlc.yaml")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		t.Fatalf("generated code in sqlc/rcpdb is stale (sqlc diff exited %d); run `make sqlc` and commit the result:\n%s",
			exit.ExitCode(), out)
	case err != nil:
		t.Fatalf("run %s diff: %v\n%s", bin, err, out)
	}
}

// sqlcBinary finds sqlc on PATH or in $(go env GOPATH)/bin and fails the
// test when it is in neither.
func sqlcBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("sqlc"); err == nil {
		return p
	}
	for _, dir := range filepath.SplitList(goPath()) {
		p := filepath.Join(dir, "bin", "sqlc")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	t.Fatalf("sqlc not found on PATH nor in $(go env GOPATH)/bin (%s); install it with "+
		"CGO_ENABLED=0 go install github.com/sqlc-dev/sqlc/cmd/sqlc@v1.31.1", goPath())
	return ""
}

// goPath is what `go env GOPATH` prints (it honours `go env -w`), or the
// default GOPATH when the go command cannot be run.
func goPath() string {
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if p := strings.TrimSpace(string(out)); err == nil && p != "" {
		return p
	}
	return build.Default.GOPATH
}
