// The peer: the forum workload Madang serves, written the way a competent
// team would with socket.io and its Redis adapter, so that the load generator
// (`madang-load --target socketio`) can drive both the same way.
//
// - a client joins a room (the forum) with `join` {forum, token, role, last_seq}
//   and is acked {head_seq, replayed}; with last_seq it first gets the events
//   it missed (the last 4096 of the room, kept in memory and in Redis);
// - `ballot` {poll, choice}: one ballot per person (token) per poll, persisted
//   in Redis (a MULTI: sequence number, the ballot, the counts) before the ack
//   {seq}; with `redis-server --appendonly yes --appendfsync always` the ack
//   means fsynced, as Madang's does;
// - `agenda` {title} (moderator): persisted (sequence number, event in a
//   capped stream) then broadcast as `event` {seq, kind: "agenda", agenda} to
//   the room, acked {seq};
// - tallies are conflated: at most 10 per second per room, `tally`
//   {seq, poll, ballots, yes, no, abstain}, to everyone in the room.
// Broadcasts go through @socket.io/redis-adapter, as they must for several nodes.
//
// Usage: node server.js --port 3000 --redis redis://127.0.0.1:6379 [--tally-hz 10]
'use strict';

const http = require('node:http');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}
const port = Number(arg('port', '3000'));
const host = arg('host', '127.0.0.1');
const redisUrl = arg('redis', 'redis://127.0.0.1:6379');
const tallyMs = Math.round(1000 / Number(arg('tally-hz', '10')));
const RING = 4096;

const rooms = new Map(); // forum -> {ring: [{seq, frame}], tally: {poll: counts}, dirty: Set, head}
function room(forum) {
  let r = rooms.get(forum);
  if (!r) {
    r = { ring: [], polls: new Map(), dirty: new Set(), head: 0, agenda: [{ id: 1, title: 'Opening', state: 'active' }, { id: 2, title: 'Budget', state: 'pending' }] };
    rooms.set(forum, r);
  }
  return r;
}

async function main() {
  const redis = createClient({ url: redisUrl });
  const pub = redis.duplicate();
  const sub = redis.duplicate();
  await Promise.all([redis.connect(), pub.connect(), sub.connect()]);

  const server = http.createServer();
  const io = new Server(server, {
    transports: ['websocket'],
    serveClient: false,
    perMessageDeflate: false,
    maxHttpBufferSize: 65536,
    adapter: createAdapter(pub, sub),
  });

  io.on('connection', (socket) => {
    socket.on('join', async (msg, ack) => {
      if (typeof ack !== 'function' || !msg || typeof msg.forum !== 'string') return;
      const r = room(msg.forum);
      socket.data.forum = msg.forum;
      socket.data.token = String(msg.token || socket.id);
      socket.data.role = msg.role || 'participant';
      socket.join(msg.forum);
      let replayed = 0;
      if (typeof msg.last_seq === 'number' && r.ring.length && msg.last_seq >= r.ring[0].seq - 1) {
        for (const e of r.ring) if (e.seq > msg.last_seq) { socket.emit('event', e.frame); replayed++; }
      }
      ack({ head_seq: r.head, replayed });
    });

    socket.on('ballot', async (msg, ack) => {
      if (typeof ack !== 'function') return;
      const forum = socket.data.forum;
      if (!forum || !msg || !['yes', 'no', 'abstain'].includes(msg.choice)) return ack({ error: 'invalid' });
      const poll = Number(msg.poll) || 1;
      const r = room(forum);
      const key = `peer:{${forum}}`;
      try {
        // One round trip: sequence number, the person's ballot (replacing an earlier one), its old value.
        const [seq, old] = await redis.multi()
          .incr(`${key}:seq`)
          .hGet(`${key}:poll:${poll}`, socket.data.token)
          .hSet(`${key}:poll:${poll}`, socket.data.token, msg.choice)
          .exec();
        let t = r.polls.get(poll);
        if (!t) { t = { ballots: 0, yes: 0, no: 0, abstain: 0 }; r.polls.set(poll, t); }
        if (old) t[old]--; else t.ballots++;
        t[msg.choice]++;
        if (seq > r.head) r.head = seq;
        r.dirty.add(poll);
        ack({ seq });
      } catch (e) {
        ack({ error: 'unavailable' });
      }
    });

    socket.on('agenda', async (msg, ack) => {
      if (typeof ack !== 'function') return;
      const forum = socket.data.forum;
      if (!forum || socket.data.role !== 'moderator') return ack({ error: 'forbidden' });
      const r = room(forum);
      r.agenda[1] = { ...r.agenda[1], title: String(msg && msg.title || 'Budget').slice(0, 200) };
      const key = `peer:{${forum}}`;
      try {
        const seq = await redis.incr(`${key}:seq`);
        const frame = { seq, at_ms: Date.now(), update: { kind: 'agenda', agenda: r.agenda } };
        await redis.xAdd(`${key}:events`, `0-${seq}`, { e: JSON.stringify(frame) }, { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: RING } });
        if (seq > r.head) r.head = seq;
        r.ring.push({ seq, frame });
        if (r.ring.length > RING) r.ring.shift();
        io.to(forum).emit('event', frame);
        ack({ seq });
      } catch (e) {
        ack({ error: 'unavailable' });
      }
    });
  });

  setInterval(() => {
    for (const [forum, r] of rooms) {
      for (const poll of r.dirty) {
        const t = r.polls.get(poll);
        io.to(forum).emit('tally', { seq: r.head, tally: { poll, ballots: t.ballots, result: { method: 'yes_no', yes: t.yes, no: t.no, abstain: t.abstain } } });
      }
      r.dirty.clear();
    }
  }, tallyMs);

  server.listen(port, host, () => console.log(`peer listening on ${host}:${port}`));
  const stop = () => { io.close(); Promise.allSettled([redis.quit(), pub.quit(), sub.quit()]).then(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => { console.error(e); process.exit(1); });
