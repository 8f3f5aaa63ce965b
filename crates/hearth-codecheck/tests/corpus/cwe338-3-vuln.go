// expect: CWE-338
package auth

import "math/rand"

func NewOTP() int { return 100000 + rand.Intn(900000) }
