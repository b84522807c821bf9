/**
 * Mutual TLS for the mesh through node:tls: every listener asks for a client certificate and refuses one the
 * mesh CA did not sign (or none, or an expired one); every connection checks the server's certificate the same
 * way. `ca` replaces the system's trusted roots, so only the mesh's own CA counts.
 *
 * Host names are not checked, on purpose: the addresses nodes dial come from the registry, as the distributor
 * saw them (`::ffff:10.0.0.5`, an address behind NAT, 127.0.0.1), so a certificate would have to name every
 * address a node may be reached at, and a move or a NAT change would break the mesh. Instead the mesh CA is
 * pinned: a certificate it signed is what makes a peer a member of the mesh. Which member answers (the role,
 * the service, the port) is proven by the mesh handshake when a secret is set. So the CA must sign nothing
 * but this mesh's nodes: never point `--tls-ca` at a public or company-wide CA.
 */
import { connect, createServer, type TLSSocket } from "node:tls";
import { attach, connectWith, listenWith } from "./node.ts";
import { type TcpImplementation, TLS_HANDSHAKE_TIMEOUT_MS, type TlsCredentials, type TlsRefused } from "./types.ts";

function peerOf(socket: TLSSocket): { address: string; port: number } {
  return { address: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
}

export function nodeTlsTcp(credentials: TlsCredentials, refused: TlsRefused = () => {}): TcpImplementation {
  const { cert, key, ca } = credentials;
  return {
    name: "node:tls",
    listen(options, open) {
      const server = createServer(
        { cert, key, ca, requestCert: true, rejectUnauthorized: true, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS },
        (socket) => {
          // rejectUnauthorized has already refused it; checked again so that no runtime's lapse lets one in.
          if (!socket.authorized) {
            refused(peerOf(socket), String(socket.authorizationError));
            return socket.destroy();
          }
          attach(socket, open);
        },
      );
      server.on("tlsClientError", (error, socket) => {
        refused(peerOf(socket), error.message);
        // With a listener for this event the socket is left open (a handshake that timed out, too): close it.
        socket.destroy();
      });
      return listenWith(server, options);
    },
    connect(options, open) {
      const socket = connect({
        host: options.hostname,
        port: options.port,
        cert,
        key,
        ca,
        rejectUnauthorized: true,
        checkServerIdentity: () => undefined,
      });
      return connectWith(
        socket,
        "secureConnect",
        options,
        open,
        () => socket.authorized ? undefined : new Error(`TLS: ${socket.authorizationError}`),
      );
    },
  };
}
