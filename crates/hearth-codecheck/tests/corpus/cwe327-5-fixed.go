// expect: none
package box

import (
	"crypto/aes"
	"crypto/cipher"
)

func Stream(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}
