// expect: none
const q = new URLSearchParams(location.search).get('q');
document.querySelector('h2').textContent = 'Results for ' + q;
