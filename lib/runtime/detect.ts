export type RuntimeName = "node" | "bun" | "deno";

/** The runtime this process runs on (the Hono `getRuntimeKey()` idea, reduced to what Pilcrow needs). */
export const runtimeName: RuntimeName = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node";
