// A TCP proxy a test or the resilience harness controls, to show what a client does while the
// server behind it is away. Plain CommonJS so that both the TypeScript tests (through
// libs/testing) and the .mjs harness load this one implementation.
//
// Three ways for the far side to go away, as clients meet them on a real network:
//   down()       the port closed: connections reset, new ones refused (a stopped server);
//   partition()  connections reset, new ones accepted and never answered (a lost route);
//   blackhole()  connections kept but nothing passes either way, new ones never answered
//                (a silent network: only the client's own timeouts notice).
// up() / heal() end the fault; heal() ends the connections made or held during it (their
// bytes were dropped, so the streams are no longer whole) and the clients reconnect.
'use strict';

const net = require('node:net');

async function startTcpProxy({ host = '127.0.0.1', port: targetPort }) {
  const sockets = new Set();
  /** Sockets that lost bytes or were never connected through: ended at heal. */
  const broken = new Set();
  let mode = 'open'; // 'open' | 'partition' | 'blackhole'

  const track = (socket) => {
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      broken.delete(socket);
    });
    socket.on('error', () => socket.destroy());
  };
  const server = net.createServer((client) => {
    track(client);
    if (mode !== 'open') {
      broken.add(client); // accepted, never answered: the far side is unreachable
      return;
    }
    const upstream = net.connect(targetPort, host);
    track(upstream);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    const forward = (from, to) =>
      from.on('data', (chunk) => {
        if (mode === 'blackhole') {
          broken.add(from).add(to);
          return; // dropped on the floor
        }
        to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
  });
  const listen = (port) =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const destroyAll = (set) => {
    for (const socket of [...set]) socket.destroy();
  };
  await listen(0);
  const port = server.address().port;
  return {
    port,
    async down() {
      destroyAll(sockets);
      if (server.listening) await new Promise((resolve) => server.close(() => resolve()));
    },
    async up() {
      if (!server.listening) await listen(port);
    },
    partition() {
      mode = 'partition';
      destroyAll(sockets);
    },
    blackhole() {
      mode = 'blackhole';
      // Connections idle at this moment lose nothing yet, but will once they speak.
    },
    heal() {
      mode = 'open';
      destroyAll(broken);
    },
    async close() {
      destroyAll(sockets);
      if (server.listening) await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

module.exports = { startTcpProxy };
