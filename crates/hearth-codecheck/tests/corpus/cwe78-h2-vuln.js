// expect: CWE-78
const cp = require('child_process');
function du(dir) {
  return cp.execSync(`du -sh ${dir}`).toString();
}
