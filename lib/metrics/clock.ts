/**
 * The current second, for the live page's per-second windows, read on every request without reading a clock:
 * on this kind of machine a clock read (performance.now, Date.now) costs 130-280 ns, more than all of a request's
 * counting. One unref'd timer per process refreshes it five times a second (it never keeps a process alive);
 * a second's requests are thus told apart within 200 ms, or later while the event loop is busy — fine for a window
 * of ten seconds.
 */
import { setInterval } from "node:timers";

const REFRESH_MS = 200;

let second: number | undefined;

function read(): number {
  return Math.floor(performance.now() / 1000);
}

/** Starts the timer on first use: a process that measures nothing runs none. */
export function currentSecond(): number {
  if (second === undefined) {
    second = read();
    setInterval(() => second = read(), REFRESH_MS).unref();
  }
  return second;
}
