// expect: none
function makeFilter(field, value) {
  return (item) => item[field] === value;
}
