// expect: none
export function renderItem(el: HTMLElement, title: string) {
  const li = document.createElement('li');
  li.textContent = title;
  el.append(li);
}
