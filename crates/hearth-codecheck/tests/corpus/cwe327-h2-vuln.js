// expect: CWE-327
const crypto = require('crypto');
function enc(key, text) {
  const c = crypto.createCipheriv('aes-128-ecb', key, null);
  return Buffer.concat([c.update(text), c.final()]);
}
