/**
 * One SSH connection to one host, opened lazily, shared by every workspace of an executor and
 * opened again after it drops. Host keys are pinned by SHA256 fingerprint; credentials (key
 * material, agent socket contents) never appear in errors or logs.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { Client, type ConnectConfig } from 'ssh2';
import { SkbError, messageOf } from '../schedules/errors.js';

/** Why an SSH operation failed, in `SkbError.details.reason`, so callers can tell the host from the candidate. */
export type SshFailureReason =
  | 'host-key-changed'
  | 'auth-failed'
  | 'unreachable'
  | 'handshake-timeout'
  | 'connection-lost'
  | 'channel-failed'
  | 'bad-key'
  | 'closed';

export interface SshConnectionOptions {
  host: string;
  port: number;
  username: string;
  /** Key material (PEM or OpenSSH format); wins over `privateKeyPath`. */
  privateKey?: string | Buffer;
  /** Read at each connect, so a rotated key file is picked up on reconnect. */
  privateKeyPath?: string;
  /** Path of an ssh-agent socket (e.g. `process.env.SSH_AUTH_SOCK`). */
  agent?: string;
  /** Pinned host key, as `ssh-keygen -lf` prints it: `SHA256:` and unpadded base64. */
  hostKeySha256: string;
  keepaliveIntervalMs: number;
  /** Unanswered keep-alives before the connection counts as lost. */
  keepaliveCountMax: number;
  /** Limit on the TCP connect alone. */
  connectTimeoutMs: number;
  /** Limit on the SSH handshake and authentication after TCP connected. */
  readyTimeoutMs: number;
}

/** A ready connection; `lost` aborts (with an `SkbError`, reason `connection-lost`) when it drops. */
export interface LiveSshConnection {
  readonly client: Client;
  readonly lost: AbortSignal;
  /**
   * Gives up on this connection now (the host stopped answering): the next `get` opens a new one
   * and operations still on this one fail as connection-lost.
   */
  discard(): void;
}

export interface SshConnector {
  /** `user@host:port` */
  readonly where: string;
  /** The current connection, or a new one when there is none or the last one dropped. */
  get(): Promise<LiveSshConnection>;
  /** Ends the connection; later `get` calls fail. */
  close(): Promise<void>;
}

/** The fingerprint form `ssh-keygen -lf` prints for a raw public key blob. */
export function sha256Fingerprint(keyBlob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The reason of an SSH failure, or null when `error` is not one. */
export function sshFailureReason(error: unknown): SshFailureReason | null {
  if (!(error instanceof SkbError) || error.code !== 'TARGET') return null;
  const reason = error.details?.reason;
  return typeof reason === 'string' ? (reason as SshFailureReason) : null;
}

/** True when the connection dropped under the operation: the host, not the candidate, is to blame. */
export function isConnectionLost(error: unknown): boolean {
  return sshFailureReason(error) === 'connection-lost';
}

export function sshError(reason: SshFailureReason, message: string, cause?: unknown): SkbError {
  return new SkbError('TARGET', message, { reason }, cause === undefined ? undefined : { cause });
}

function normalizeFingerprint(value: string): string {
  const trimmed = value.trim();
  const body = trimmed.startsWith('SHA256:') ? trimmed.slice('SHA256:'.length) : trimmed;
  return `SHA256:${body.replace(/=+$/, '')}`;
}

export function createSshConnector(options: SshConnectionOptions): SshConnector {
  const where = `${options.username}@${options.host}:${options.port}`;
  const pinned = normalizeFingerprint(options.hostKeySha256);
  let current: Promise<LiveSshConnection> | null = null;
  let closed = false;
  const clients = new Set<Client>();

  async function privateKey(): Promise<string | Buffer | undefined> {
    if (options.privateKey !== undefined) return options.privateKey;
    if (options.privateKeyPath === undefined) return undefined;
    try {
      return await readFile(options.privateKeyPath);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
      throw sshError(
        'bad-key',
        `cannot read the private key for ${where} at ${options.privateKeyPath} (${code}); fix privateKeyPath in the targets file`,
      );
    }
  }

  function openSocket(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: options.host, port: options.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          sshError(
            'unreachable',
            `cannot reach ${where}: no TCP connection within ${options.connectTimeoutMs} ms; check host and port in the targets file and that sshd runs there`,
          ),
        );
      }, options.connectTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        // Each command is a handful of small request/reply packets; Nagle's algorithm would hold
        // every one back waiting for the peer's delayed ACK.
        socket.setNoDelay(true);
        resolve(socket);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(
          sshError(
            'unreachable',
            `cannot reach ${where} (${error.code ?? error.message}); check host and port in the targets file and that sshd runs there`,
          ),
        );
      });
    });
  }

  async function connect(): Promise<LiveSshConnection> {
    const key = await privateKey();
    const sock = await openSocket();
    const client = new Client();
    clients.add(client);
    const lostController = new AbortController();
    let hostKeyProblem: SkbError | null = null;
    let ready = false;

    const markLost = (detail: string): void => {
      if (lostController.signal.aborted) return;
      lostController.abort(
        sshError(
          'connection-lost',
          `connection lost to ${where} (${detail}); the command did not finish and may be retried`,
        ),
      );
    };

    return new Promise<LiveSshConnection>((resolve, reject) => {
      client.on('ready', () => {
        ready = true;
        resolve({
          client,
          lost: lostController.signal,
          discard: () => {
            markLost('it stopped answering');
            client.destroy();
          },
        });
      });
      client.on('error', (error: Error & { level?: string }) => {
        if (ready) {
          markLost(error.message);
          // A keep-alive timeout ends the socket politely, but a peer that stopped answering never
          // finishes the close; destroying it makes the loss final right away.
          client.destroy();
          return;
        }
        client.destroy();
        if (hostKeyProblem) reject(hostKeyProblem);
        else if (error.level === 'client-authentication') {
          reject(
            sshError(
              'auth-failed',
              `authentication to ${where} failed: the server accepted none of the offered keys; check username, privateKeyPath or agent in the targets file and that the public key is in the server's authorized_keys`,
            ),
          );
        } else if (error.level === 'client-timeout') {
          reject(
            sshError(
              'handshake-timeout',
              `the SSH handshake with ${where} did not finish within ${options.readyTimeoutMs} ms; check that the port is an SSH server`,
            ),
          );
        } else {
          // A host going away mid-handshake (sshd killed, a reset from a firewall) lands here; it reads
          // like the other unreachable cases so a pool member's reason says the same thing for each.
          reject(
            sshError(
              'unreachable',
              `cannot reach ${where}: the SSH handshake failed (${error.message}); check that sshd runs there and the network between`,
            ),
          );
        }
      });
      const onGone = (): void => {
        clients.delete(client);
        markLost('the server or the network closed it');
        if (!ready)
          reject(
            hostKeyProblem ??
              sshError(
                'unreachable',
                `${where} closed the connection during the SSH handshake; check that the port is an SSH server`,
              ),
          );
      };
      client.on('end', onGone);
      client.on('close', onGone);

      const config: ConnectConfig = {
        sock,
        username: options.username,
        hostVerifier: (keyBlob: Buffer) => {
          const seen = sha256Fingerprint(keyBlob);
          if (seen === pinned) return true;
          hostKeyProblem = sshError(
            'host-key-changed',
            `host key of ${where} changed: expected ${pinned}, got ${seen}; if the change is expected, update hostKeySha256 in the targets file`,
          );
          return false;
        },
        keepaliveInterval: options.keepaliveIntervalMs,
        keepaliveCountMax: options.keepaliveCountMax,
        readyTimeout: options.readyTimeoutMs,
      };
      if (key !== undefined) config.privateKey = key;
      if (options.agent !== undefined) config.agent = options.agent;
      try {
        client.connect(config);
      } catch (error) {
        // ssh2 throws synchronously on a key it cannot parse; its message names the format, not the key.
        sock.destroy();
        clients.delete(client);
        reject(
          sshError(
            'bad-key',
            `the private key for ${where} cannot be used (${messageOf(error)}); encrypted keys need an agent`,
            error,
          ),
        );
      }
    });
  }

  return {
    where,
    get() {
      if (closed) return Promise.reject(sshError('closed', `the SSH executor for ${where} is closed`));
      if (current) return current;
      const attempt: Promise<LiveSshConnection> = connect().then(
        (live) => {
          live.lost.addEventListener('abort', () => {
            if (current === attempt) current = null;
          });
          return live;
        },
        (error: unknown) => {
          if (current === attempt) current = null;
          throw error;
        },
      );
      current = attempt;
      return attempt;
    },
    async close() {
      closed = true;
      current = null;
      await Promise.all(
        [...clients].map(
          (client) =>
            new Promise<void>((resolve) => {
              const timer = setTimeout(() => {
                client.destroy();
                resolve();
              }, 1000);
              client.once('close', () => {
                clearTimeout(timer);
                resolve();
              });
              client.end();
            }),
        ),
      );
      clients.clear();
    },
  };
}
