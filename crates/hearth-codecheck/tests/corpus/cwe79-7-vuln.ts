// expect: CWE-79
export function renderItem(el: HTMLElement, title: string) {
  el.insertAdjacentHTML('beforeend', `<li>${title}</li>`);
}
