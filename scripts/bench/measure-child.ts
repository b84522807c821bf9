/** Runs a measuring script in a process of its own on a given runtime and takes the result it prints. */
import type { RuntimeName } from "../../lib/runtime/mod.ts";
import { startProcess } from "../../tests/support/processes.ts";

export async function measureInChild<T>(
  file: string,
  args: string[],
  runtime: RuntimeName,
  limitMs: number,
): Promise<T> {
  const running = await startProcess(file, args, { runtime, waitForListen: false });
  try {
    const result = await running.waitForEvent("result", limitMs);
    return result.details[0] as T;
  } finally {
    await running.stop();
  }
}
