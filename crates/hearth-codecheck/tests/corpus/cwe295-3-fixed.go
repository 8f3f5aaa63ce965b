// expect: none
package client

import (
	"crypto/tls"
	"net/http"
)

var c = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
