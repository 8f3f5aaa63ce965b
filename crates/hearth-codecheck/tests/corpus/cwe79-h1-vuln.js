// expect: CWE-79
function renderComment(c) {
  const li = document.createElement('li');
  li.innerHTML = `<b>${c.author}</b>: ${c.text}`;
  return li;
}
