package apitest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// documented are the packages whose every exported name must carry a doc
// comment (a grouped const or var may share the group's comment): every
// non-internal package with an API, and the internal packages every
// package uses.
var documented = []string{".", "hwaddr", "linuxbridge", "dhcpns", "libvirtinspect", "trace", "launch", "metrics", "firewall", "guestlog", "internal/netns", "internal/sentinel"}

func TestEveryExportedNameDocumented(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, dir := range documented {
		ents, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			t.Fatal(err)
		}
		hasDoc := false
		for _, e := range ents {
			n := e.Name()
			if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
				continue
			}
			hasDoc = hasDoc || n == "doc.go"
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, filepath.Join(root, dir, n), nil, parser.ParseComments|parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			for _, miss := range append(undocumented(f), undocumentedFields(fset, f)...) {
				t.Errorf("%s/%s: exported %s has no doc comment", dir, n, miss)
			}
		}
		if !hasDoc {
			t.Errorf("%s has no doc.go", dir)
		}
	}
}

func undocumented(f *ast.File) []string {
	var out []string
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() || d.Doc != nil {
				continue
			}
			if d.Recv != nil && !exportedRecv(d.Recv) {
				continue
			}
			out = append(out, d.Name.Name)
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					if s.Name.IsExported() && s.Doc == nil && d.Doc == nil {
						out = append(out, s.Name.Name)
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() && s.Doc == nil && d.Doc == nil && s.Comment == nil {
							out = append(out, n.Name)
						}
					}
				}
			}
		}
	}
	return out
}

func exportedRecv(r *ast.FieldList) bool {
	t := r.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if g, ok := t.(*ast.IndexExpr); ok {
		t = g.X
	}
	id, ok := t.(*ast.Ident)
	return ok && id.IsExported()
}

// undocumentedFields lists exported fields of exported structs without a
// comment. A field on the line right after a documented one shares its
// comment ("RxPackets and TxPackets are ...").
func undocumentedFields(fset *token.FileSet, f *ast.File) []string {
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || !ts.Name.IsExported() {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return true
		}
		prevLine, prevDocd := -10, false
		for _, fl := range st.Fields.List {
			line := fset.Position(fl.Pos()).Line
			docd := fl.Doc != nil || fl.Comment != nil || (prevDocd && line == prevLine+1)
			for _, name := range fl.Names {
				if name.IsExported() && !docd {
					out = append(out, ts.Name.Name+"."+name.Name)
				}
			}
			prevLine, prevDocd = fset.Position(fl.End()).Line, docd
		}
		return true
	})
	return out
}
