// expect: CWE-79
function showName(name) {
  document.getElementById('greeting').innerHTML = 'Hello, ' + name;
}
