// expect: CWE-327
package box

import "crypto/rc4"

func Stream(key []byte) (*rc4.Cipher, error) { return rc4.NewCipher(key) }
