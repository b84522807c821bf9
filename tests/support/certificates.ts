/**
 * A throw-away PKI for the TLS tests, made with the `openssl` command line in a temporary directory: a mesh CA,
 * a certificate it signed for the mesh's nodes, one it signed that has already expired, and a second CA with a
 * certificate of its own (a stranger's). Every certificate is X.509 v3 with the extensions rustls (Deno's TLS)
 * insists on. Keys are P-256: quick to make.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface CertificateFiles {
  cert: string;
  key: string;
}

export interface TestPki {
  dir: string;
  /** The mesh's CA certificate: what `--tls-ca` names on every process. */
  ca: string;
  /** Signed by the mesh CA, valid now, for both ends of a connection. */
  node: CertificateFiles;
  /** Signed by the mesh CA, valid only in 2020. */
  expired: CertificateFiles;
  /** Signed by another CA, valid now. */
  stranger: CertificateFiles;
  /** The other CA's certificate. */
  strangerCa: string;
  /** The PEM text of a file of this PKI. */
  read(file: string): string;
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** What `openssl ca` needs to sign with a chosen validity (`-startdate`/`-enddate`), which `x509 -req` lacks. */
function caConfig(name: string): string {
  return `
[ca]
default_ca = signer
[signer]
dir = ${name}
database = ${name}/index.txt
new_certs_dir = ${name}
serial = ${name}/serial
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
[node]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:pilcrow-node
`;
}

function makeCa(dir: string, name: string, subject: string): void {
  openssl(
    dir,
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"].concat(
      ["-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "2", "-subj", subject],
      ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    ),
  );
  mkdirSync(join(dir, name));
  writeFileSync(join(dir, name, "index.txt"), "");
  writeFileSync(join(dir, name, "serial"), "1000\n");
  writeFileSync(join(dir, `${name}.cnf`), caConfig(name));
}

/**
 * A certificate for `subject` signed by the CA `ca`. The subject names no host: the mesh trusts a peer for
 * being signed by its CA, not for its name (see lib/runtime/tls.ts).
 */
function issue(dir: string, ca: string, name: string, validity: string[]): CertificateFiles {
  openssl(
    dir,
    ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"].concat(
      ["-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`],
    ),
  );
  openssl(
    dir,
    ["ca", "-batch", "-notext", "-config", `${ca}.cnf`, "-cert", `${ca}.crt`, "-keyfile", `${ca}.key`].concat(
      ["-extensions", "node", "-in", `${name}.csr`, "-out", `${name}.crt`, ...validity],
    ),
  );
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "pilcrow-pki-"));
  makeCa(dir, "mesh-ca", "/CN=Pilcrow test mesh CA");
  makeCa(dir, "other-ca", "/CN=Some other CA");
  return {
    dir,
    ca: join(dir, "mesh-ca.crt"),
    node: issue(dir, "mesh-ca", "node", ["-days", "2"]),
    expired: issue(dir, "mesh-ca", "expired", ["-startdate", "20200101000000Z", "-enddate", "20201231000000Z"]),
    stranger: issue(dir, "other-ca", "stranger", ["-days", "2"]),
    strangerCa: join(dir, "other-ca.crt"),
    read: (file) => readFileSync(file, "utf8"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
