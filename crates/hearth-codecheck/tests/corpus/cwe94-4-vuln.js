// expect: CWE-94
function makeFilter(body) {
  return new Function('item', 'return ' + body);
}
