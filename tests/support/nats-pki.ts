/**
 * A throw-away PKI for NATS over TLS, made with the `openssl` command line in a temporary directory: a CA, a
 * server certificate it signed for this machine (`localhost` and 127.0.0.1: nats.js checks the server's name,
 * unlike the TCP mesh, see tests/support/certificates.ts), a client certificate it signed, and a second CA (a
 * stranger's) to be refused. X.509 v3 with the extensions rustls insists on; P-256 keys: quick to make.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface CertificateAndKey {
  cert: string;
  key: string;
}

export interface NatsPki {
  dir: string;
  /** The CA that signed the server's and the client's certificates. */
  ca: string;
  server: CertificateAndKey;
  client: CertificateAndKey;
  /** A CA that signed neither. */
  strangerCa: string;
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

const NEW_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function makeCa(dir: string, name: string): string {
  openssl(dir, [
    ...["req", "-x509", ...NEW_KEY, "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "2"],
    ...["-subj", `/CN=${name}`, "-addext", "basicConstraints=critical,CA:TRUE"],
    ...["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
  ]);
  return join(dir, `${name}.crt`);
}

function issue(dir: string, name: string, extensions: string): CertificateAndKey {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, ["req", ...NEW_KEY, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`]);
  openssl(dir, [
    ...["x509", "-req", "-in", `${name}.csr`, "-CA", "nats-ca.crt", "-CAkey", "nats-ca.key", "-CAcreateserial"],
    ...["-days", "2", "-sha256", "-extfile", `${name}.ext`, "-out", `${name}.crt`],
  ]);
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

const LEAF = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n";

export function makeNatsPki(): NatsPki {
  const dir = mkdtempSync(join(tmpdir(), "pilcrow-nats-pki-"));
  const ca = makeCa(dir, "nats-ca");
  const strangerCa = makeCa(dir, "stranger-ca");
  return {
    dir,
    ca,
    server: issue(dir, "server", `${LEAF}extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n`),
    client: issue(dir, "client", `${LEAF}extendedKeyUsage=clientAuth\n`),
    strangerCa,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
