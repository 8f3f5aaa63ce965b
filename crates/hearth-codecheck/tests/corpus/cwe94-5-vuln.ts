// expect: CWE-94
export function schedule(action: string, delay: number) {
  setTimeout("handle('" + action + "')", delay);
}
