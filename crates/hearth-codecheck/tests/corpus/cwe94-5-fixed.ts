// expect: none
export function schedule(action: string, delay: number) {
  setTimeout(() => handle(action), delay);
}
