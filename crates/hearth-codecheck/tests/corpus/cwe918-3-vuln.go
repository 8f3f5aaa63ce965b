// expect: CWE-918
package proxy

import "net/http"

func Fetch(w http.ResponseWriter, r *http.Request) {
	resp, err := http.Get(r.URL.Query().Get("url"))
	if err == nil {
		defer resp.Body.Close()
	}
}
