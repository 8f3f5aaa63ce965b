// expect: CWE-295
package client

import (
	"crypto/tls"
	"net/http"
)

var c = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
