// expect: none
const { randomInt } = require('crypto');
function makeResetCode() {
  return randomInt(0, 1e6).toString().padStart(6, '0');
}
