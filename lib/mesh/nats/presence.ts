/**
 * Registration and discovery on the NATS mesh, with no registry: each instance announces itself on the presence
 * subject when it starts, again after every reconnect and every REANNOUNCE_MS, and announces that it serves
 * nothing when it leaves; a node that calls others keeps the table of instances, asking every instance to answer
 * it directly (the hello subject) when it starts and after every reconnect. A change costs one small message per
 * node that listens, not the whole list to every node. Instances that vanish without leaving are found by their
 * links: NATS answers "no responders" (forget) or heartbeats go unanswered (the pool's liveness).
 */
import type { Msg, Subscription } from "@nats-io/transport-node";
import { clearImmediate, clearInterval, setImmediate, setInterval } from "node:timers";
import * as v from "valibot";
import { MAX_REGISTRATION_BYTES, MAX_URL_LENGTH, MAX_URLS } from "../../wire/node-info.ts";
import type { NodeInfo } from "../../wire/packet.ts";
import type { NatsBus } from "./bus.ts";

/** Every instance says it is there this often, so a table that missed an announcement heals within it. */
export const REANNOUNCE_MS = 30_000;

/** What an instance announces. */
const AnnouncementSchema = v.object({
  subject: v.pipe(v.string(), v.maxLength(256)),
  name: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
  urls: v.pipe(v.array(v.pipe(v.string(), v.maxLength(MAX_URL_LENGTH))), v.maxLength(MAX_URLS)),
  pilcrow: v.number(),
});

export type Announcement = v.InferOutput<typeof AnnouncementSchema>;

export interface PresenceOptions {
  bus: NatsBus;
  /** What this node announces: its subject, name and routes (none: it announces nothing, a gateway). */
  self?: Announcement;
  /** Receives the whole table after each change; left out, the node does not listen (it calls nobody). */
  notified?(nodes: NodeInfo[]): void;
}

export interface Presence {
  /**
   * An instance found gone by its link, for a request sent at `sentAt` (performance.now()): dropped until it
   * announces itself again, or asked back at once when it was heard from after that request left.
   */
  forget(subject: string, sentAt: number): void;
  /** Announces that this node serves nothing any more (others stop sending it new requests). */
  leave(): void;
  close(): void;
}

export function joinPresence(options: PresenceOptions): Presence {
  const { bus, notified } = options;
  const { log } = bus;
  let self = options.self;
  const nodes = new Map<string, NodeInfo>();
  /** When each listed instance was last heard from (performance.now()). */
  const heardAt = new Map<string, number>();
  const subscriptions: Subscription[] = [];

  const announcement = () => JSON.stringify(self);
  const announce = () => self && self.urls.length > 0 && bus.publish(bus.presenceSubject, announcement());
  // Once per batch of messages, not per message: a hello brings an answer from every instance at once, and a
  // table rebuilt for each would cost the square of the mesh.
  let notifying = false;
  const changed = () => {
    if (notifying || !notified) return;
    notifying = true;
    queueMicrotask(() => {
      notifying = false;
      notified([...nodes.values()]);
    });
  };

  function heard(message: Msg): void {
    // The server's own status (no responders: a hello when no instance is up yet) has no body; an announcement has.
    if (message.data.length === 0) return;
    const entry = parseAnnouncement(message, bus);
    if (typeof entry === "string") return log.warn("invalid announcement on NATS", message.subject, entry);
    if (entry.subject === self?.subject) return;
    const known = nodes.get(entry.subject);
    if (entry.urls.length === 0) {
      heardAt.delete(entry.subject);
      if (!nodes.delete(entry.subject)) return;
    } else {
      heardAt.set(entry.subject, performance.now());
      if (known && sameRoutes(known, entry)) return;
      nodes.set(entry.subject, {
        port: 0,
        name: entry.name,
        urls: entry.urls,
        pilcrow: entry.pilcrow,
        subject: entry.subject,
      });
    }
    changed();
  }

  if (self) {
    subscriptions.push(bus.subscribe(bus.helloSubject, (message) => {
      if (self && self.urls.length > 0 && message.reply) message.respond(announcement());
    }));
  }
  let inbox: string | undefined;
  if (notified) {
    subscriptions.push(bus.subscribe(bus.presenceSubject, heard));
    inbox = bus.newInbox();
    subscriptions.push(bus.subscribe(inbox, heard));
  }
  const hello = () => inbox !== undefined && bus.publish(bus.helloSubject, "", inbox);
  // One hello for every instance asked back in one turn: NATS coming back can find many gone at once, and each
  // hello brings an answer from every instance.
  let helloQueued: ReturnType<typeof setImmediate> | undefined;
  const helloSoon = () => {
    helloQueued ??= setImmediate(() => {
      helloQueued = undefined;
      hello();
    });
  };
  // No flush needed: a connection's messages reach its server in order, so every subscription (the instance's own
  // subject included, made before) is there before anyone hears of it.
  announce();
  hello();
  const unwatch = bus.onChange((up) => {
    if (!up) return;
    announce();
    hello();
  });
  const timer = setInterval(announce, REANNOUNCE_MS).unref();
  return {
    forget(subject, sentAt) {
      if (nodes.delete(subject)) changed();
      // Heard from after that request left: it subscribed again meanwhile. When NATS comes back, a node's first
      // ping can find an instance still reconnecting, and its announcement, read in the same batch as the "no
      // responders", be handled first. Dropped all the same (its link is gone), it is asked back at once by a hello
      // instead of waiting for its next announcement (REANNOUNCE_MS).
      const heard = heardAt.get(subject);
      heardAt.delete(subject);
      if (heard !== undefined && heard >= sentAt) helloSoon();
    },
    leave() {
      if (!self) return;
      self = { ...self, urls: [] };
      bus.publish(bus.presenceSubject, announcement());
    },
    close() {
      clearInterval(timer);
      // Not after the connection is closed, where publishing throws.
      clearImmediate(helloQueued);
      unwatch();
      for (const subscription of subscriptions) subscription.unsubscribe();
    },
  };
}

/** The announcement in a message, or what is wrong with it. */
function parseAnnouncement(message: Msg, bus: NatsBus): Announcement | string {
  if (message.data.length > MAX_REGISTRATION_BYTES) return `${message.data.length} bytes`;
  let value: unknown;
  try {
    value = JSON.parse(message.string());
  } catch {
    return "not JSON";
  }
  const result = v.safeParse(AnnouncementSchema, value);
  if (!result.success) return result.issues[0].message;
  if (!bus.isInstanceSubject(result.output.subject)) return "not an instance subject of this mesh";
  return result.output;
}

function sameRoutes(node: NodeInfo, entry: Announcement): boolean {
  return node.name === entry.name && node.urls.length === entry.urls.length
    && node.urls.every((url, index) => url === entry.urls[index]);
}
