// expect: none
function parseConfig(text) {
  return JSON.parse(text);
}
