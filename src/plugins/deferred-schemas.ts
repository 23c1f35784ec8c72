/**
 * Route schemas compiled when they are first needed, not before the server listens.
 *
 * Fastify compiles every route's validator (Ajv) and response serializer (fast-json-stringify)
 * before it listens: 0.6-0.8 s of the main thread here (each route that references the
 * architecture-spec schema costs ~0.2 s of Ajv), at the moment the inference workers need the cores
 * to load models, and most of it for routes a deployment may never call. Fastify's own compilers
 * are kept (same Ajv options and plugins, same shared schemas); each function they return is
 * built on its first call instead. `compilePending()` builds the rest: the server calls it once
 * the models are loaded, so a first request rarely pays for its compile, and a test calls it to
 * prove that every schema compiles.
 */
import AjvCompiler, { type ValidatorFactory } from '@fastify/ajv-compiler';
import SerializerSelector, { type SerializerFactory } from '@fastify/fast-json-stringify-compiler';

type Compiled = ((...args: never[]) => unknown) & { errors?: unknown };

export interface DeferredCompilers {
  compilersFactory: { buildValidator: ValidatorFactory; buildSerializer: SerializerFactory };
  /** Compiles every schema not compiled yet; returns how many it compiled. Throws what a compile throws. */
  compilePending(): number;
}

export function deferredCompilers(): DeferredCompilers {
  const pending = new Set<() => Compiled>();
  /** `build(route)`'s function, built on its first call. Ajv reports a failure on the function's `errors`, which Fastify reads after the call. */
  const deferred = (build: () => Compiled): Compiled => {
    let compiled: Compiled | undefined;
    const get = () => {
      if (!compiled) {
        pending.delete(get);
        compiled = build();
      }
      return compiled;
    };
    pending.add(get);
    const fn: Compiled = function (this: unknown, ...args: never[]) {
      const real = get();
      const result = real.apply(this, args);
      fn.errors = real.errors;
      return result;
    };
    return fn;
  };
  // The factories' own types, kept: each compiler it builds returns a deferred function of the same type.
  const wrap =
    <Args extends unknown[], Route, Fn>(factory: (...args: Args) => (route: Route) => Fn) =>
    (...args: Args) => {
      const compile = factory(...args);
      return (route: Route) => deferred(() => compile(route) as Compiled) as Fn;
    };
  return {
    compilersFactory: {
      buildValidator: wrap(AjvCompiler()),
      buildSerializer: wrap(SerializerSelector()),
    },
    compilePending() {
      const todo = [...pending];
      for (const get of todo) get();
      return todo.length;
    },
  };
}
