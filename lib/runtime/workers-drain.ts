/**
 * How a worker that shares its port with others (`--workers`) lets its clients go when it stops. A client on a
 * keep-alive connection to it must be told to open a new one, which then reaches another worker: every answer from
 * the stop on, those being prepared included, says `Connection: close`, and each runtime's server closes the
 * connection after it. A connection closed while idle instead can cross the request the client is sending on it right
 * then (clients send such a request again, RFC 9112 §9.3.1, but it is a failure all the same), so none is closed
 * while its client may still be using it:
 *
 * - node:http stops listening at once and keeps its idle connections for DRAIN_GRACE_MS: under load each brings its
 *   next request well within it, and gets the answer that says to go; those still idle then are closed.
 * - Bun.serve and Deno.serve close every idle connection as they stop listening: they keep listening for
 *   DRAIN_GRACE_MS while every answer says to go, so their clients move to the other workers (one that reconnects
 *   here again, as the kernel may send it, is told again), and stop once none is left.
 */
import type { HttpServeOptions } from "./types.ts";

/** Far longer than a client under load takes to send its next request, short enough not to slow a stop much. */
export const DRAIN_GRACE_MS = 1000;

type Fetch = HttpServeOptions["fetch"];

export interface ClosingAnswers {
  /** The server's `fetch`: the app's answers, marked once `drain` was called. */
  fetch: Fetch;
  drain(): void;
}

export function closingAnswers(fetch: Fetch): ClosingAnswers {
  let draining = false;
  const mark = (answer: Response): Response => draining ? closing(answer) : answer;
  return {
    fetch(request) {
      const answer = fetch(request);
      return answer instanceof Promise ? answer.then(mark) : mark(answer);
    },
    drain() {
      draining = true;
    },
  };
}

/** For Bun.serve and Deno.serve: the clients told to go for DRAIN_GRACE_MS first, then `stop` (see above). */
export async function tellClientsThenStop(answers: ClosingAnswers | undefined, stop: () => Promise<void>) {
  if (answers) {
    answers.drain();
    await new Promise((resolve) => setTimeout(resolve, DRAIN_GRACE_MS));
  }
  await stop();
}

function closing(answer: Response): Response {
  try {
    answer.headers.set("connection", "close");
    return answer;
  } catch {
    // Headers that cannot change (a Response.redirect's): the same answer with headers of its own.
    const headers = new Headers(answer.headers);
    headers.set("connection", "close");
    return new Response(answer.body, { status: answer.status, statusText: answer.statusText, headers });
  }
}
