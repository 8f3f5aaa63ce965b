// expect: CWE-338
function makeResetCode() {
  return Math.floor(Math.random() * 1e6).toString().padStart(6, '0');
}
