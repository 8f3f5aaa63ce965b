// expect: none
function showName(name) {
  document.getElementById('greeting').textContent = 'Hello, ' + name;
}
