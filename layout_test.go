package logout_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// publicTestPackages are the packages outside internal/ that may import
// package testing: suites and helpers for users' tests, as
// testing/slogtest and net/http/httptest are (each store's helper gives
// a test a connection to the local server, and its own prefix or schema).
var publicTestPackages = []string{"storetest", "redisstore/redistest", "pgstore/pgtest", "mysqlstore/mysqltest"}

// TestTestOnlyCode keeps test-only code where users do not see it: across
// the repository, a file that imports testing or net/http/httptest is a
// _test.go file, or belongs to an internal package (importable from this
// repository only) or to a suite in publicTestPackages.
func TestTestOnlyCode(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		if slices.Contains(strings.Split(dir, "/"), "internal") || slices.Contains(publicTestPackages, dir) {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "testing" || p == "net/http/httptest" || strings.HasPrefix(p, "testing/") {
				t.Errorf("%s imports %s: move the code to a _test.go file or an internal package", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
