// expect: CWE-327
const crypto = require('crypto');
function enc(key, iv, text) {
  const c = crypto.createCipheriv('des-ede3-cbc', key, iv);
  return c.update(text, 'utf8', 'hex') + c.final('hex');
}
