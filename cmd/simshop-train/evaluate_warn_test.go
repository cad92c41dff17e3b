package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestCompareWarnsOnFlatAges(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shop.csv")
	writeFile(t, path, []byte("item_id,category,price,color,brand\n"+
		"a,Dresses,20,blue,X\nb,Dresses,30,red,Y\nc,Tops,15,blue,Y\nd,Tops,25,green,X\ne,Shoes,40,black,Z\n"))
	const warning = "freshness_seeker prefers none of them"

	r := mustExecute(t, "compare", "--persona", "freshness_seeker", "--catalog", path, "--episodes", "4", "--envs", "2")
	if !strings.Contains(r.stderr, warning) {
		t.Errorf("compare on a catalog without release ages did not warn; stderr:\n%s", r.stderr)
	}
	r = mustExecute(t, "compare", "--persona", "cheap_blue", "--catalog", path, "--episodes", "4", "--envs", "2")
	if strings.Contains(r.stderr, warning) {
		t.Errorf("compare warned about release ages on cheap_blue; stderr:\n%s", r.stderr)
	}
	r = mustExecute(t, "compare", "--persona", "freshness_seeker", "--items", "20", "--episodes", "4", "--envs", "2")
	if strings.Contains(r.stderr, warning) {
		t.Errorf("compare warned about release ages on a generated catalog, which has them; stderr:\n%s", r.stderr)
	}
}
