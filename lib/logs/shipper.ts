/**
 * Sends a node's log lines to the logs service over the mesh (`--log-to-mesh`). Logging never waits for it: a
 * line is queued (the logger's `also` hook: one array push), and a timer sends what is queued as one `POST/logs`
 * request at a time, every BATCH_INTERVAL_MS or as soon as BATCH_LINES are waiting.
 *
 * What is dropped, always counted: a line that finds the queue full (MAX_QUEUED_LINES or MAX_QUEUED_CHARS); a batch
 * whose request timed out or whose connection dropped (it may have been written: sending it again could write it
 * twice); a batch the service refused; and lines that waited HOLD_MS while no logs service was in the mesh (a batch
 * is held that long, so lines written while the mesh is still being joined, or while the service restarts, still
 * arrive). The count is said locally at warn (at most once per REPORT_INTERVAL_MS) and sent as `dropped` with the
 * next batch that gets through, which the logs service writes as a line of its own.
 *
 * Lines about shipping are not shipped: the shipper's own lines go to a logger without the hook, and a line that
 * names the logs route (the mesh's timeout warning for a batch, say) stays local — else a logs service that is
 * failing would be sent a line for every batch it fails.
 */
import type { Logger } from "../log.ts";
import { type MeshCore, MeshError } from "../mesh/core.ts";
import { LOGS_ROUTE } from "./settings.ts";

export const BATCH_LINES = 100;
export const BATCH_INTERVAL_MS = 200;
export const MAX_QUEUED_LINES = 10_000;
/** ~4 MiB of JSON text (characters; most lines are ASCII). */
export const MAX_QUEUED_CHARS = 4 * 1024 * 1024;
/**
 * The longest line shipped whole; a longer one is sent with its details replaced by a note of its length. The logs
 * service refuses longer ones (services/logs/contract.ts).
 */
export const MAX_LINE_CHARS = 16 * 1024;
/** A batch's characters at most: under the mesh's 1 MiB frame even if every character took 3 bytes. */
const MAX_BATCH_CHARS = 256 * 1024;
export const HOLD_MS = 5000;
const REQUEST_TIMEOUT_MS = 2000;
const REPORT_INTERVAL_MS = 10_000;

/** Why no logs service took the batch, but it was not sent to one: it can wait for one, up to HOLD_MS. */
const NOT_SENT = new Set(["unknown-route", "no-instance", "busy"]);

interface Queued {
  text: string;
  at: number;
}

export interface ShipperOptions {
  /** Where the shipper's own lines go: a logger that does not ship. */
  log: Logger;
  /** The sending node, as the logs service adds it to each line (`goods@127.0.0.1:9010`). */
  node?: string;
}

export class LogShipper {
  #queue: Queued[] = [];
  #queuedChars = 0;
  #mesh?: MeshCore;
  #timer?: ReturnType<typeof setInterval>;
  /** The batch in flight: resolves to whether the logs service took it. */
  #sending?: Promise<boolean>;
  #sendScheduled = false;
  /** Dropped since the last batch that got through: sent with the next one. */
  #droppedUnsent = 0;
  /** Dropped since the last local report. */
  #droppedUnreported = 0;
  #lastReportAt = 0;
  #reasons = new Set<string>();
  #closed = false;
  /** The sending node, as the logs service adds it to each line (`goods@127.0.0.1:9010`), once known. */
  node?: string;

  constructor(private readonly options: ShipperOptions) {
    this.node = options.node;
  }

  /** The logger's `also` hook: queue one JSON line, or count it dropped. Never throws, never logs. */
  readonly push = (text: string): void => {
    if (this.#closed || text.includes(ROUTE_IN_JSON)) return;
    const line = text.length > MAX_LINE_CHARS ? shortened(text) : text;
    if (this.#queue.length >= MAX_QUEUED_LINES || this.#queuedChars + line.length > MAX_QUEUED_CHARS) {
      return this.#drop(1, "queue full");
    }
    this.#queue.push({ text: line, at: Date.now() });
    this.#queuedChars += line.length;
    // Not sent from here: the line may be written from inside the mesh, which is then in the middle of something.
    if (this.#queue.length >= BATCH_LINES && this.#mesh && !this.#sending && !this.#sendScheduled) {
      this.#sendScheduled = true;
      queueMicrotask(() => {
        this.#sendScheduled = false;
        this.#sendNext();
      });
    }
  };

  /** Starts sending through the node's mesh; lines queued before are sent first. */
  attach(mesh: MeshCore): void {
    this.#mesh = mesh;
    this.#timer = setInterval(() => this.#sendNext(), BATCH_INTERVAL_MS);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /**
   * Sends what is queued, for at most `limitMs` and while the logs service takes it, then stops for good: later
   * lines, and what is still queued, stay local.
   */
  async close(limitMs: number): Promise<void> {
    clearInterval(this.#timer);
    const deadline = Date.now() + limitMs;
    while (this.#mesh && Date.now() < deadline) {
      const sending = this.#sending ?? this.#sendNext(deadline);
      if (!sending) break;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), deadline - Date.now()));
      const taken = await Promise.race([sending, late]);
      clearTimeout(timer);
      if (!taken) break;
    }
    this.#closed = true;
    this.#queue = [];
  }

  /** Sends the next batch, unless one is in flight or nothing waits; returns the batch's outcome. */
  #sendNext(deadline = Date.now() + REQUEST_TIMEOUT_MS): Promise<boolean> | undefined {
    if (this.#sending || !this.#mesh) return undefined;
    this.#dropExpired();
    this.#reportDropped();
    const batch = this.#takeBatch();
    if (batch.length === 0) return undefined;
    // The count goes with this batch, once: it comes back only if the batch surely did not reach the file (refused,
    // or never sent). One that timed out may have been written, its count with it: sent again, it would be counted
    // twice in the file.
    const dropped = this.#droppedUnsent;
    this.#droppedUnsent = 0;
    const params: Record<string, unknown> = { lines: batch.map(({ text }) => JSON.parse(text)) };
    if (dropped > 0) params.dropped = dropped;
    if (this.node !== undefined) params.node = this.node;
    const sending = this.#mesh.request(LOGS_ROUTE, params, { deadline, resend: false }).then(
      ({ packet }) => {
        if (packet.errorcode === 0) return true;
        this.#droppedUnsent += dropped;
        this.#drop(batch.length, `refused: ${String(packet.errormessage).slice(0, 100)}`);
        return false;
      },
      (error: unknown) => {
        const failure = error instanceof MeshError ? error.failure : "error";
        if (NOT_SENT.has(failure)) {
          this.#droppedUnsent += dropped;
          this.#hold(batch);
        } else if (failure === "request-too-large") {
          // Larger than the NATS server takes (a max_payload below the batch's size): it would be again.
          this.#droppedUnsent += dropped;
          this.#drop(batch.length, "larger than the mesh carries (not sent)");
        } else this.#drop(batch.length, `${failure} (perhaps written)`);
        return false;
      },
    ).finally(() => {
      this.#sending = undefined;
      this.#reportDropped();
    });
    this.#sending = sending;
    return sending;
  }

  #takeBatch(): Queued[] {
    let count = 0;
    let chars = 0;
    while (count < this.#queue.length && count < BATCH_LINES) {
      chars += this.#queue[count].text.length;
      if (chars > MAX_BATCH_CHARS && count > 0) break;
      count++;
    }
    const batch = this.#queue.splice(0, count);
    for (const { text } of batch) this.#queuedChars -= text.length;
    return batch;
  }

  /** Puts a batch nobody took back at the front, to wait for a logs service (what waited too long is dropped). */
  #hold(batch: Queued[]): void {
    const room = MAX_QUEUED_LINES - this.#queue.length;
    const kept = batch.slice(Math.max(0, batch.length - room));
    if (kept.length < batch.length) this.#drop(batch.length - kept.length, "queue full");
    this.#queue.unshift(...kept);
    for (const { text } of kept) this.#queuedChars += text.length;
    this.#dropExpired();
  }

  #dropExpired(): void {
    const oldest = Date.now() - HOLD_MS;
    let expired = 0;
    while (expired < this.#queue.length && this.#queue[expired].at < oldest) expired++;
    if (expired === 0) return;
    for (const { text } of this.#queue.splice(0, expired)) this.#queuedChars -= text.length;
    this.#drop(expired, "no logs service");
  }

  #drop(lines: number, reason: string): void {
    this.#droppedUnsent += lines;
    this.#droppedUnreported += lines;
    this.#reasons.add(reason);
  }

  /** At most one local line per REPORT_INTERVAL_MS, with every line dropped since the last. */
  #reportDropped(): void {
    if (this.#droppedUnreported === 0 || Date.now() - this.#lastReportAt < REPORT_INTERVAL_MS) return;
    this.options.log.warn("log lines dropped", {
      lines: this.#droppedUnreported,
      reasons: [...this.#reasons],
      route: LOGS_ROUTE,
    });
    this.#lastReportAt = Date.now();
    this.#droppedUnreported = 0;
    this.#reasons.clear();
  }
}

/** How the logs route appears in a JSON line that names it (a detail, or inside one). */
const ROUTE_IN_JSON = `"${LOGS_ROUTE}"`;

/** A line too long to ship: its time, level, process, event and fields kept, its details replaced by a note. */
function shortened(text: string): string {
  const record = JSON.parse(text) as Record<string, unknown>;
  record.details = [`[${text.length} characters: too long to ship; the node's own log has it whole]`];
  for (const key of Object.keys(record)) {
    if (JSON.stringify(record).length <= MAX_LINE_CHARS) break;
    if (!["time", "level", "process", "event", "details"].includes(key)) delete record[key];
  }
  if (typeof record.event === "string" && JSON.stringify(record).length > MAX_LINE_CHARS) {
    record.event = record.event.slice(0, 1000);
  }
  return JSON.stringify(record);
}
