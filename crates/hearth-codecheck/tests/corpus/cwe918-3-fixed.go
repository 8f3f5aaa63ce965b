// expect: none
package proxy

import "net/http"

func Fetch(w http.ResponseWriter, r *http.Request) {
	resp, err := http.Get("https://status.example.com/health")
	if err == nil {
		defer resp.Body.Close()
	}
}
