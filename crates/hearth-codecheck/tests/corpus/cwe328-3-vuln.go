// expect: CWE-328
package sig

import "crypto/md5"

func Sum(b []byte) [16]byte { return md5.Sum(b) }
