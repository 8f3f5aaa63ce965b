// expect: CWE-94
export function evaluate(expression: string): number {
  return eval(expression);
}
