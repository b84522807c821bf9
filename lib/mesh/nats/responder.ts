/**
 * The answering side of an instance on the NATS mesh: its own subject, each message a packet whose answer is the
 * reply. It hands packets to the same handler as the TCP server (lib/service/kit.ts), with a reply channel that
 * looks like a connection to it. What a caller can make it hold is bounded by NATS itself (max_payload per
 * message, and the server's slow-consumer limit per subscription).
 */
import type { Msg, Subscription } from "@nats-io/transport-node";
import type { AnswerChannel } from "../../service/channel.ts";
import type { Packet } from "../../wire/packet.ts";
import type { NatsBus } from "./bus.ts";

export interface Responder {
  /** Requests received last, Date.now(): a stop waits until callers have stopped sending (they heard the leave). */
  readonly lastRequestAt: number;
  /** Stops receiving: a request sent after it gets "no responders" and goes to another instance. */
  close(): Promise<void>;
}

export function respondOnNats(
  bus: NatsBus,
  subject: string,
  packet: (packet: Packet, channel: AnswerChannel) => void,
): Responder {
  let lastRequestAt = 0;
  const subscription: Subscription = bus.subscribe(subject, (message) => {
    if (!message.reply) return;
    lastRequestAt = Date.now();
    const received = parsePacket(message);
    if (received === undefined) {
      bus.log.warn("message that is not a JSON packet", `${message.data.length} bytes`);
      return void message.respond(JSON.stringify({ errorcode: 1, errormessage: "the request is not a JSON packet" }));
    }
    packet(received, new NatsReply(message, bus));
  });
  return {
    get lastRequestAt() {
      return lastRequestAt;
    },
    // Drained, not cut: messages already delivered to this node are still handled.
    close: () => subscription.drain(),
  };
}

/** The reply to one request, as the kit answers a connection. */
class NatsReply implements AnswerChannel {
  #message: Msg;
  #bus: NatsBus;
  closed = false;

  constructor(message: Msg, bus: NatsBus) {
    this.#message = message;
    this.#bus = bus;
  }

  send(packet: Packet): void {
    this.#respond(JSON.stringify(packet));
  }

  /** A ¶ frame: its JSON text without the ¶ (NATS frames messages itself). */
  sendFrame(frame: string): void {
    this.#respond(frame.slice(0, -1));
  }

  #respond(text: string): void {
    this.closed = true;
    try {
      this.#message.respond(text);
    } catch (error) {
      // Larger than the server's max_payload: the caller gets a clear refusal instead of a timeout.
      this.#bus.log.warn("answer not sent over NATS", `${text.length} characters`, (error as Error).message);
      this.#message.respond(
        JSON.stringify({ errorcode: 1, errormessage: "the answer was too large to send over NATS" }),
      );
    }
  }
}

function parsePacket(message: Msg): Packet | undefined {
  try {
    const value: unknown = JSON.parse(message.string());
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value as Packet : undefined;
  } catch {
    return undefined;
  }
}
