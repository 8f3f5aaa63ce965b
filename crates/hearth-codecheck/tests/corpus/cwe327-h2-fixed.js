// expect: none
const crypto = require('crypto');
function enc(key, iv, text) {
  const c = crypto.createCipheriv('aes-128-gcm', key, iv);
  return Buffer.concat([c.update(text), c.final()]);
}
