// expect: none
package auth

import (
	"crypto/rand"
	"math/big"
)

func NewOTP() int {
	n, _ := rand.Int(rand.Reader, big.NewInt(900000))
	return 100000 + int(n.Int64())
}
