/**
 * A bounded queue for costly work done off the event loop (password hashing on the thread pool). Its bound is
 * in time, not in jobs: a job is taken only if, by the measured cost of recent jobs, it can expect to start
 * within `maxWaitMs` and before its deadline — so whatever the machine's speed, the work queued is at most
 * about `maxWaitMs` of it, and a caller who comes right after a flood waits no longer than that. A job that
 * finds a free slot always starts: only running jobs correct the estimate, so refusing on it alone could
 * lock every caller out for good after one slow measurement.
 * Every job is refused at once rather than late: when the queue is full (ServiceBusyError), or when its
 * deadline has passed by the time its turn comes (DeadlinePassedError: nobody waits for it, so it never runs).
 */
import { DeadlinePassedError, ServiceBusyError } from "./errors.ts";

export interface WorkQueueOptions {
  /** What the work is, for the busy message: "password hashing". */
  name: string;
  /** Jobs run at once: more than the cores can run only makes each one slower. */
  concurrency: number;
  /** The longest a job may expect to wait for its turn. */
  maxWaitMs: number;
  /** A job's cost before any has been measured (a job timed at start-up), so a first flood is bounded too. */
  initialCostMs: number;
}

interface Job {
  start(): void;
  deadline: number;
  drop(error: Error): void;
}

/** How much each finished job moves the cost estimate: recent enough to follow load, steady enough not to jump. */
const COST_WEIGHT = 0.2;

export class WorkQueue {
  #options: WorkQueueOptions;
  #running = 0;
  #waiting: Job[] = [];
  #costMs: number;

  constructor(options: WorkQueueOptions) {
    this.#options = options;
    this.#costMs = options.initialCostMs;
  }

  /** Runs `work` in its turn; refuses at once when it could not start in time (see the file's comment). */
  run<T>(work: () => Promise<T>, deadline = Infinity): Promise<T> {
    const { concurrency, maxWaitMs, name } = this.#options;
    const expectedWaitMs = this.#running < concurrency ? 0 : ((this.#waiting.length + 1) / concurrency) * this.#costMs;
    if (expectedWaitMs > maxWaitMs || Date.now() + expectedWaitMs > deadline) {
      return Promise.reject(new ServiceBusyError(`${name} is ${Math.round(expectedWaitMs)} ms behind`));
    }
    return new Promise<T>((resolve, reject) => {
      const job: Job = {
        deadline,
        drop: reject,
        start: () => {
          const started = Date.now();
          this.#running++;
          Promise.resolve().then(work).then(resolve, reject).finally(() => {
            this.#costMs += COST_WEIGHT * (Date.now() - started - this.#costMs);
            this.#running--;
            this.#next();
          });
        },
      };
      if (this.#running < concurrency) job.start();
      else this.#waiting.push(job);
    });
  }

  #next(): void {
    while (this.#running < this.#options.concurrency) {
      const job = this.#waiting.shift();
      if (!job) return;
      if (Date.now() > job.deadline) job.drop(new DeadlinePassedError());
      else job.start();
    }
  }
}
