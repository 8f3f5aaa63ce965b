// expect: none
const cp = require('child_process');
function du(dir) {
  return cp.execFileSync('du', ['-sh', dir]).toString();
}
