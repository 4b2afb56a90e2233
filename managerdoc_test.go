package logout_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestManagerDocNamesEveryMethod keeps the Manager's doc comment, which
// sorts its methods into lifecycle, HTTP surface, sign-in and
// administration, in step with the methods: each exported one is named.
func TestManagerDocNamesEveryMethod(t *testing.T) {
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var doc string
	var methods []string
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.GenDecl:
				for _, s := range d.Specs {
					if ts, ok := s.(*ast.TypeSpec); ok && ts.Name.Name == "Manager" {
						doc = d.Doc.Text()
					}
				}
			case *ast.FuncDecl:
				if d.Recv == nil || !d.Name.IsExported() {
					continue
				}
				if star, ok := d.Recv.List[0].Type.(*ast.StarExpr); ok {
					if id, ok := star.X.(*ast.Ident); ok && id.Name == "Manager" {
						methods = append(methods, d.Name.Name)
					}
				}
			}
		}
	}
	if doc == "" || len(methods) < 20 {
		t.Fatalf("found %d methods and doc %q: the test no longer reads the Manager", len(methods), doc)
	}
	for _, m := range methods {
		if !strings.Contains(doc, "[Manager."+m+"]") {
			t.Errorf("the Manager's doc comment does not name [Manager.%s] in any group", m)
		}
	}
}
