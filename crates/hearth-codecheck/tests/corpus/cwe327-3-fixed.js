// expect: none
const crypto = require('crypto');
function enc(key, iv, text) {
  const c = crypto.createCipheriv('aes-256-gcm', key, iv);
  return c.update(text, 'utf8', 'hex') + c.final('hex');
}
