/**
 * NestJS's decorators, applied as plain calls. tsconfig.json and deno.json (which both check scripts/) leave out
 * experimentalDecorators, so `@Get()` would be a standard decorator, which NestJS's legacy-style ones are not
 * written for; and with no emitted parameter types, a constructor's dependency is named with `Inject(TOKEN)`. Each
 * call does what TypeScript's legacy output does: the same decorator, on the same target, with the same arguments.
 */

/**
 * Decorates a method of `target`'s prototype, the decorators listed top to bottom as they would stand above it
 * (applied bottom-up, a returned descriptor replacing the method's, as TypeScript does).
 */
export function decorateMethod(target: { prototype: object }, name: string, ...decorators: MethodDecorator[]): void {
  const { prototype } = target;
  let descriptor = Object.getOwnPropertyDescriptor(prototype, name);
  if (descriptor === undefined) throw new Error(`no method ${name} to decorate`);
  for (const decorator of decorators.toReversed()) descriptor = decorator(prototype, name, descriptor) ?? descriptor;
  Object.defineProperty(prototype, name, descriptor);
}
