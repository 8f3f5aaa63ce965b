// expect: none
package web

import (
	"net/http"
	"os"
	"path/filepath"
)

func Serve(w http.ResponseWriter, r *http.Request) {
	name := filepath.Base(r.URL.Query().Get("f"))
	data, _ := os.ReadFile(filepath.Join("/srv/static", name))
	w.Write(data)
}
