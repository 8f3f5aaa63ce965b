// expect: none
const crypto = require('crypto');
function generateSessionId() {
  return crypto.randomBytes(16).toString('hex');
}
