// expect: CWE-94
const vm = require('vm');
function render(template, ctx) {
  return vm.runInNewContext(template, ctx);
}
