// expect: CWE-79
const q = new URLSearchParams(location.search).get('q');
document.write('<h2>Results for ' + q + '</h2>');
