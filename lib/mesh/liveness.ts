/**
 * Heartbeats, the one way every Pilcrow peer finds a peer that vanished without closing its socket (a pulled
 * cable, a frozen VM or process: the kernel keeps its connections open). A watched peer quiet for one interval
 * is pinged; one quiet for MISSED_BEATS intervals is taken for gone. Any packet is a sign of life, so a busy
 * connection is never pinged. The distributor watches its nodes and a node the instances it sends requests to,
 * both pinging; a node watches its distributor without pinging it, at the interval the distributor's own pings
 * state (a book distributor never pings, so it is never watched).
 */
import { clearInterval, setInterval } from "node:timers";
import { MISSED_BEATS } from "../wire/heartbeat.ts";

export interface Watched {
  /** When the peer last sent anything (Date.now()). */
  readonly lastReceivedAt: number;
}

export interface LivenessEvents<Peer> {
  /** Asks a quiet peer for a sign of life; left out where the peer pings this side instead. */
  ping?(peer: Peer, intervalMs: number): void;
  /** The peer was quiet for MISSED_BEATS intervals. It is no longer watched: watch it again once it is back. */
  gone(peer: Peer, quietMs: number): void;
}

interface Watch {
  intervalMs: number;
  pingedAt: number;
}

/** Checks per interval: a gone peer is found within MISSED_BEATS intervals and a quarter. */
const CHECKS_PER_INTERVAL = 4;

export class Liveness<Peer extends Watched> {
  #events: LivenessEvents<Peer>;
  #watched = new Map<Peer, Watch>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #checkMs = Infinity;

  constructor(events: LivenessEvents<Peer>) {
    this.#events = events;
  }

  /** Watches a peer (again) with this interval; a peer already watched keeps its last ping time. */
  watch(peer: Peer, intervalMs: number): void {
    const watch = this.#watched.get(peer);
    if (watch) watch.intervalMs = intervalMs;
    else this.#watched.set(peer, { intervalMs, pingedAt: 0 });
    const checkMs = Math.max(1, Math.floor(intervalMs / CHECKS_PER_INTERVAL));
    if (checkMs >= this.#checkMs) return;
    clearInterval(this.#timer);
    this.#checkMs = checkMs;
    this.#timer = setInterval(() => this.#check(), checkMs).unref();
  }

  forget(peer: Peer): void {
    if (this.#watched.delete(peer) && this.#watched.size === 0) this.close();
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#checkMs = Infinity;
    this.#watched.clear();
  }

  #check(): void {
    const now = Date.now();
    for (const [peer, watch] of this.#watched) {
      const quietMs = now - peer.lastReceivedAt;
      if (quietMs >= MISSED_BEATS * watch.intervalMs) {
        this.forget(peer);
        this.#events.gone(peer, quietMs);
      } else if (quietMs >= watch.intervalMs && now - watch.pingedAt >= watch.intervalMs) {
        watch.pingedAt = now;
        this.#events.ping?.(peer, watch.intervalMs);
      }
    }
  }
}
