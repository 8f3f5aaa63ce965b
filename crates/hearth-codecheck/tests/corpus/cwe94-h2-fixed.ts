// expect: none
import { evaluate as safeEval } from 'mathjs';
export function evaluate(expression: string): number {
  return safeEval(expression);
}
