// expect: none
const vm = require('vm');
function render(ctx) {
  return vm.runInNewContext('a + b', ctx);
}
