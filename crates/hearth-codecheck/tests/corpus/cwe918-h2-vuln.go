// expect: CWE-918
package hook

import "net/http"

func Ping(w http.ResponseWriter, r *http.Request) {
	req, _ := http.NewRequest("GET", r.FormValue("callback"), nil)
	http.DefaultClient.Do(req)
}
