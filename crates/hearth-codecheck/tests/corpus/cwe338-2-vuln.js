// expect: CWE-338
function generateSessionId() {
  return Math.random().toString(36).slice(2);
}
