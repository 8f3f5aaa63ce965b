// expect: CWE-328
const crypto = require('crypto');
function fingerprint(data) {
  return crypto.createHash('sha1').update(data).digest('hex');
}
