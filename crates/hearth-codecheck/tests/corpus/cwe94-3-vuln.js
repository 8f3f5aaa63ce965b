// expect: CWE-94
function parseConfig(text) {
  return eval('(' + text + ')');
}
