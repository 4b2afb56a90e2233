package logout_test

import (
	"bufio"
	"bytes"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The engine never sees HTTP, and the HTTP layer never sees the engine's
// state. The package's files are of two kinds, by name:
//
//   - the engine's, engine*.go: the session cache, the settings cache,
//     the store's health, the work in flight, the push subscribers and
//     sign-outs on close, the beat and the sweep. They import no net/http
//     package.
//   - all others: the HTTP layer (middleware.go, endpoints.go, push.go,
//     signin.go, signedin.go, credentials.go, deny.go) and the Manager's
//     API (manager.go, audit.go, observer.go) over the package's
//     vocabulary (session.go, settings.go, store.go, …). They read and
//     write no field of a type that the engine's files declare, and name
//     none of those types but engine, visit (what they ask the engine
//     about) and handle (its answer, opaque to them): they call the
//     engine's methods.
//
// TestEngineSeam keeps both rules, over the package's files as the
// compiler sees them (go/types).

// seamTypes are the engine's types that the other files may name.
var seamTypes = []string{"engine", "handle", "visit"}

func isEngineFile(name string) bool {
	return strings.HasPrefix(name, "engine") && !strings.HasSuffix(name, "_test.go")
}

func TestEngineSeam(t *testing.T) {
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	names = slices.DeleteFunc(names, func(name string) bool { return strings.HasSuffix(name, "_test.go") })
	files := make([]*ast.File, len(names))
	engineFiles := 0
	for i, name := range names {
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files[i] = f
		if !isEngineFile(name) {
			continue
		}
		engineFiles++
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "net/http" || strings.HasPrefix(p, "net/http/") {
				t.Errorf("%s imports %s: the engine never sees HTTP", fset.Position(imp.Pos()), p)
			}
		}
	}
	if engineFiles == 0 {
		t.Fatal("no engine*.go files: the rule has nothing to keep")
	}

	info := &types.Info{
		Selections: make(map[*ast.SelectorExpr]*types.Selection),
		Uses:       make(map[*ast.Ident]types.Object),
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "gc", exportData(t, files))}
	if _, err := conf.Check("github.com/gologout/logout", fset, files, info); err != nil {
		t.Fatal(err)
	}
	inEngine := func(obj types.Object) bool {
		return obj.Pkg() != nil && obj.Pkg().Path() == "github.com/gologout/logout" &&
			isEngineFile(filepath.Base(fset.Position(obj.Pos()).Filename))
	}
	for i, f := range files {
		if isEngineFile(names[i]) {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if sel := info.Selections[n]; sel != nil && sel.Kind() == types.FieldVal && inEngine(sel.Obj()) {
					t.Errorf("%s: %s reads the engine's field %s: call a method of the engine instead",
						fset.Position(n.Sel.Pos()), types.ExprString(n), sel.Obj().Name())
				}
			case *ast.Ident:
				if obj, ok := info.Uses[n].(*types.TypeName); ok && inEngine(obj) && !slices.Contains(seamTypes, obj.Name()) {
					t.Errorf("%s: names the engine's type %s: only %v cross the seam",
						fset.Position(n.Pos()), obj.Name(), seamTypes)
				}
			}
			return true
		})
	}
}

// exportData returns the lookup of the compiler's export data of the
// packages that files import, and of their dependencies, found with one
// go list. The test is skipped without the go command.
func exportData(t *testing.T, files []*ast.File) func(path string) (io.ReadCloser, error) {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the seam check needs the go command:", err)
	}
	args := []string{"list", "-deps", "-export", "-f", "{{.ImportPath}} {{.Export}}"}
	seen := make(map[string]bool)
	for _, f := range files {
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); !seen[p] {
				seen[p] = true
				args = append(args, p)
			}
		}
	}
	out, err := exec.Command(goCmd, args...).Output()
	if err != nil {
		t.Fatalf("go list -export: %v", err)
	}
	export := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if path, file, ok := strings.Cut(sc.Text(), " "); ok && file != "" {
			export[path] = file
		}
	}
	return func(path string) (io.ReadCloser, error) {
		file, ok := export[path]
		if !ok {
			return nil, os.ErrNotExist
		}
		return os.Open(file)
	}
}
