/**
 * Internal invariants: values this service put in place itself (a shape inferred for every node, a
 * weight bound for every parameterised layer). A miss is a bug here, never a client's fault, so these
 * throw a plain Error, which the error policy answers as a 500 without detail and logs in full.
 */

/** `value`, which the caller knows is set; `what` names it in the error if it is not. */
export function defined<T>(value: T | null | undefined, what: string): T {
  if (value === undefined || value === null) throw new Error(`internal: ${what} is missing`);
  return value;
}

/** The entry of `map` under `key`, which the caller knows is there; `what` names the map's values. */
export function lookup<K, V>(map: ReadonlyMap<K, V>, key: K, what: string): V {
  const value = map.get(key);
  if (value === undefined) throw new Error(`internal: no ${what} for ${String(key)}`);
  return value;
}
