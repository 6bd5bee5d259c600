/**
 * `compute` with its answers kept for the last `capacity` distinct inputs, forgotten all at once
 * when full (no bookkeeping per hit). For pure functions of a string that are dear to call on
 * every request (parsing an address) and see few distinct inputs.
 */
export function remembered<T>(compute: (input: string) => T, capacity: number): (input: string) => T {
  const answers = new Map<string, T>();
  return (input) => {
    // One lookup on a hit; `has` only for an answer that is itself undefined.
    const known = answers.get(input);
    if (known !== undefined || answers.has(input)) return known as T;
    const answer = compute(input);
    if (answers.size >= capacity) answers.clear();
    answers.set(input, answer);
    return answer;
  };
}
