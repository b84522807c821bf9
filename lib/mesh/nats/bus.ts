/**
 * A node's NATS connection as the mesh uses it: whether it is up now (links and presence act on each change),
 * the subjects of this mesh, and requests whose failures read as the TCP mesh's (lib/tcp/errors.ts), so that
 * request.ts handles both meshes alike.
 */
import { createInbox, type Msg, type NatsConnection, nuid, type Subscription } from "@nats-io/transport-node";
import { Buffer } from "node:buffer";
import type { Logger } from "../../log.ts";
import { PendingRequests } from "../../pending-requests.ts";
import { exit } from "../../runtime/mod.ts";
import { ConnectionLostError, RequestTooLargeError } from "../../tcp/errors.ts";
import { WriteQueue } from "../../write-queue.ts";
import type { InstanceLink, LinkEvents } from "../link.ts";
import { connectNats } from "./connect.ts";
import { NatsLink, type Vanished } from "./link.ts";
import type { NatsSettings } from "./settings.ts";

export type BusListener = (up: boolean) => void;

/** NATS said at once that nobody subscribes to the subject: the request was delivered to no one. */
export class NoRespondersError extends Error {
  override name = "NoRespondersError";
  constructor() {
    super("nobody subscribes to the subject");
  }
}

/**
 * Where the answers to this node's requests come: one subscription to `<inbox>.*`, each request's reply subject
 * `<inbox>.<token>` with a token from nats.js's nuid, as nats.js's own requests do, but waited for in
 * PendingRequests (one sweeping timer, no Error made per request; see there). Anyone who may publish to the
 * inbox could answer in an instance's place, as with nats.js's requests: NATS permissions (allow_responses)
 * are what keeps others from it.
 */
interface Replies {
  inbox: string;
  pending: PendingRequests<string, Msg>;
}

/** A request waiting in the outbox, with the replies it waits among (forgotten meanwhile, they failed it). */
interface Outgoing {
  subject: string;
  text: string;
  token: string;
  replies: Replies;
}

export class NatsBus {
  readonly connection: NatsConnection;
  readonly log: Logger;
  /** `<prefix>.presence`: every instance's announcements and leaves. */
  readonly presenceSubject: string;
  /** `<prefix>.hello`: a node that wants to know the mesh asks here; every instance answers it directly. */
  readonly helloSubject: string;
  #prefix: string;
  #up = true;
  #listeners = new Set<BusListener>();
  #closing = false;
  #replies: Replies | undefined;
  /** Requests are published together, as a TCP connection writes its frames (lib/write-queue.ts says why). */
  #outbox = new WriteQueue<Outgoing>((requests) => this.#publishRequests(requests));
  #lost!: (why: string) => void;
  /** Settles when the connection closed for good without `close` (nats.js stopped reconnecting): why. */
  readonly lost: Promise<string> = new Promise((resolve) => this.#lost = resolve);

  /** `prefix`: the mesh's name (settings.ts); its subjects are `<prefix>.presence`, `<prefix>.hello`, `<prefix>.i.<id>`. */
  constructor(connection: NatsConnection, log: Logger, prefix: string) {
    this.connection = connection;
    this.log = log;
    this.#prefix = prefix;
    this.presenceSubject = `${prefix}.presence`;
    this.helloSubject = `${prefix}.hello`;
    void this.#watch();
  }

  /** Connected to a NATS server now (false while it reconnects). */
  get up(): boolean {
    return this.#up && !this.connection.isClosed();
  }

  /** The request subject of a new instance: unique, and a single token after the prefix. */
  instanceSubject(id: string): string {
    return `${this.#prefix}.i.${id}`;
  }

  /** Whether a subject names an instance of this mesh (announcements are untrusted input). */
  isInstanceSubject(subject: string): boolean {
    const head = `${this.#prefix}.i.`;
    return subject.startsWith(head) && /^[A-Za-z0-9_-]{1,64}$/.test(subject.slice(head.length));
  }

  /**
   * Closes the connection, after writing what was published (a last leave). Requests not sent yet are not sent,
   * and every request still waiting fails: no answer could reach it now.
   */
  async close(): Promise<void> {
    this.#closing = true;
    this.#outbox.clear();
    this.#forgetReplies("the NATS connection was closed");
    await this.connection.close();
  }

  onChange(listener: BusListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A subject of this node's own for replies (a hello's answers). */
  newInbox(): string {
    return createInbox();
  }

  /** The way to the instance answering on `subject`; `vanished` hears when NATS says nobody does any more. */
  link(subject: string, events: LinkEvents, vanished: Vanished): InstanceLink {
    return new NatsLink(this, subject, events, vanished);
  }

  subscribe(subject: string, received: (message: Msg) => void): Subscription {
    return this.connection.subscribe(subject, {
      callback: (error, message) => {
        if (error) return this.log.warn("NATS subscription failed", subject, error.message);
        received(message);
      },
    });
  }

  publish(subject: string, text: string, reply?: string): void {
    this.connection.publish(subject, text, reply === undefined ? undefined : { reply });
  }

  /**
   * Sends `text` to `subject` and waits for one reply: it fails with NoRespondersError when nobody subscribes,
   * RequestTimeoutError past `timeoutMs`, RequestTooLargeError when it is larger than the server takes (its
   * max_payload), or the reason NATS refused to send it (the connection closed).
   */
  request(subject: string, text: string, timeoutMs: number): Promise<Msg> {
    const limit = this.connection.info?.max_payload;
    // Refused here, with its size, and not by nats.js when the outbox is written, where it could only read as a
    // request lost on the way. A character is at most 3 bytes of UTF-8: most texts need no count.
    if (limit !== undefined && text.length * 3 > limit) {
      const bytes = Buffer.byteLength(text, "utf8");
      if (bytes > limit) return Promise.reject(new RequestTooLargeError(subject, bytes, limit));
    }
    let replies: Replies;
    try {
      replies = this.#replies ??= this.#listenForReplies();
    } catch (error) {
      // The connection is closed or draining: nats.js refuses a new subscription at once.
      return Promise.reject(error);
    }
    const token = nuid.next();
    const reply = replies.pending.wait(token, timeoutMs);
    this.#outbox.add({ subject, text, token, replies }, text.length);
    return reply;
  }

  #publishRequests(requests: Outgoing[]): boolean {
    for (const { subject, text, token, replies: { inbox, pending } } of requests) {
      // Failed already (the connection closed, or the reply subscription was refused): not sent.
      if (!pending.has(token)) continue;
      try {
        this.connection.publish(subject, text, { reply: `${inbox}.${token}` });
      } catch (error) {
        pending.fail(token, error instanceof Error ? error : new Error(String(error)));
      }
    }
    return true;
  }

  #listenForReplies(): Replies {
    const replies: Replies = { inbox: createInbox(), pending: new PendingRequests() };
    const head = replies.inbox.length + 1;
    this.connection.subscribe(`${replies.inbox}.*`, {
      callback: (error, message) => {
        if (error) {
          // Refused (a permission the server withholds): nats.js has dropped the subscription. What waits fails
          // now instead of at its timeout, and the next request subscribes anew, as nats.js's own requests did.
          this.log.warn("NATS reply subscription failed", error.message);
          return this.#forgetReplies(`the NATS reply subscription failed: ${error.message}`);
        }
        const token = message.subject.slice(head);
        // "No responders" is an empty message with status 503 (sent because nats.js asks for it on connect).
        if (message.data.length === 0 && message.headers?.code === 503) {
          replies.pending.fail(token, new NoRespondersError());
        } else replies.pending.settle(token, message);
      },
    });
    return replies;
  }

  /** Fails every request waiting for a reply, and forgets the reply subscription (it is gone). */
  #forgetReplies(why: string): void {
    const replies = this.#replies;
    this.#replies = undefined;
    replies?.pending.failAll(new ConnectionLostError(why));
  }

  async #watch(): Promise<void> {
    for await (const status of this.connection.status()) {
      if (status.type === "disconnect") this.#set(false);
      else if (status.type === "reconnect") this.#set(true);
      else if (status.type === "slowConsumer") {
        this.log.warn("NATS slow consumer: messages dropped", status.sub.getSubject());
      }
    }
    this.#set(false);
    this.#forgetReplies("the NATS connection was closed");
    if (this.#closing) return;
    // nats.js gives up only on what retrying cannot mend (authorization refused again and again, say).
    const error = await this.connection.closed();
    this.#lost(error instanceof Error ? error.message : "closed");
  }

  #set(up: boolean): void {
    if (this.#up === up) return;
    this.#up = up;
    for (const listener of [...this.#listeners]) listener(up);
  }
}

/**
 * Connects a node to the NATS mesh of `settings` (open.ts loads this module only then). A node whose connection
 * nats.js closes for good (not by `close`) exits with 1, so that its launcher starts it again.
 */
export async function connectToMesh(
  settings: NatsSettings,
  log: Logger,
  name: string,
  stop?: AbortSignal,
): Promise<NatsBus> {
  const bus = new NatsBus(await connectNats(settings, log, name, stop), log, settings.name);
  void bus.lost.then((why) => {
    log.error("NATS connection closed for good; exiting", why);
    exit(1);
  });
  return bus;
}
