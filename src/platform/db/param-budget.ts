/** PostgreSQL accepts at most 65,535 bind parameters per statement; multi-row statements stay below this. */
const PARAM_BUDGET = 60_000;

/** How many of the items, from the first, one multi-row statement can take: at most `max`, within the budget, never none. */
export function countWithinParamBudget<T>(items: readonly T[], paramsOf: (item: T) => number, max: number): number {
  let params = 0;
  let n = 0;
  for (const item of items) {
    params += paramsOf(item);
    if ((params > PARAM_BUDGET && n > 0) || n >= max) break;
    n++;
  }
  return n;
}
