// expect: none
function renderComment(c) {
  const li = document.createElement('li');
  const b = document.createElement('b');
  b.textContent = c.author;
  li.append(b, ': ' + c.text);
  return li;
}
