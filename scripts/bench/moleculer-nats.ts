/**
 * Moleculer's NATS transporter (the `nats` v2 client), the way Moleculer's users scale out: both Moleculer
 * processes are given `nats://HOST:PORT NAMESPACE` as arguments. The namespace keeps this run's subjects apart
 * from anything else on the same NATS server (another run, the test suite's mesh).
 */

export interface NatsChoice {
  url: string;
  namespace: string;
}

/** The NATS server and namespace from a Moleculer process's arguments, when they name one. */
export function natsChoice(args: string[]): NatsChoice | undefined {
  const [url, namespace] = args;
  if (!url?.startsWith("nats://")) return undefined;
  if (!namespace) throw new Error("a Moleculer process on NATS needs a namespace after the server's URL");
  return { url, namespace };
}

/** Broker options: Moleculer's own NATS transporter to that server, in that namespace. */
export function natsBrokerOptions({ url, namespace }: NatsChoice) {
  return { namespace, transporter: { type: "NATS", options: { url } } };
}
