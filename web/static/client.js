// The madang.v1 WebSocket client shared by the three pages.
//
// - Keeps a copy of the forum (ForumState) current from `welcome` snapshots,
//   `event` updates and `tally` frames, and remembers the last applied `seq`.
// - Reconnects by itself with backoff and resumes with `last_seq`, so it is
//   replayed what it missed (or given a fresh snapshot).
// - Every command gets a request id; until its `ack` or `error` arrives it is
//   kept (in localStorage when `persistKey` is given, so a reload keeps it)
//   and sent again, with the same id, after every reconnect. The server
//   answers a repeat with the original ack (`duplicate: true`): nothing is
//   applied twice.
// - The connection state is honest: "online" only after the server answered
//   (a `welcome`, then any frame). While the page is visible a `ping` goes
//   out every second that nothing else arrived, and a server silent for
//   STALL_MS is shown as offline (a stopped server or a dead network keeps
//   a socket open long after it stopped answering); the browser's `offline`
//   event is shown at once. Every status report carries what is waiting to
//   be sent (`detail.waiting`), so a page can say "1 vote waiting".

/** How long the server may be silent before the page says it is offline. */
const STALL_MS = 1800;
/** How long a silent connection is kept before it is dropped and reopened. */
const DEAD_MS = 10000;

export const SUBPROTOCOL = "madang.v1";

export class ForumState {
  constructor() {
    this.clear();
  }

  clear() {
    this.forum = null;
    this.agenda = [];
    this.activeItem = null;
    this.ideas = new Map();
    this.polls = new Map();
    this.tallies = new Map();
    this.participants = { remote: 0, hall: 0 };
    this.speakers = null; // the speaker queue, when the server has one
    this.temperature = null; // the current item's temperature check
    this.hallCheck = null; // moderators: the hall headcount check
    this.screen = { kind: "auto" }; // what the displays show, as the moderator chose it
    this.seq = 0;
  }

  loadSnapshot(view) {
    this.clear();
    this.forum = view.forum;
    this.agenda = view.agenda || [];
    this.activeItem = view.active_item ?? null;
    for (const idea of view.ideas || []) this.ideas.set(idea.id, idea);
    for (const poll of view.polls || []) this.polls.set(poll.id, poll);
    for (const tally of view.tallies || []) this.tallies.set(tally.poll, tally);
    this.participants = view.participants || { remote: 0, hall: 0 };
    this.speakers = view.speakers || null;
    this.temperature = view.temperature || null;
    this.hallCheck = view.hall_check || null;
    this.screen = view.screen || { kind: "auto" };
    this.seq = view.seq || 0;
  }

  apply(update) {
    switch (update.kind) {
      case "forum":
        this.forum = update.forum;
        break;
      case "agenda":
        this.agenda = update.agenda || [];
        this.activeItem = update.active_item ?? null;
        break;
      case "idea":
        this.ideas.set(update.idea.id, update.idea);
        break;
      case "idea_removed":
        this.ideas.delete(update.idea);
        break;
      case "poll": {
        this.polls.set(update.poll.id, update.poll);
        if (!update.poll.results_visible || update.poll.status === "closed") {
          if (!update.poll.results_visible) this.tallies.delete(update.poll.id);
        }
        break;
      }
      case "participants":
        this.participants = update.participants;
        break;
      case "speakers":
        this.speakers = update.speakers;
        break;
      case "hall_count": {
        // Moderators: the hand count now in force for the poll (PollView.hall_count).
        const poll = this.polls.get(update.poll);
        if (poll) this.polls.set(poll.id, { ...poll, hall_count: update.counts });
        this.hallCheck = update.hall_check;
        break;
      }
      case "hall_check":
        this.hallCheck = update.hall_check;
        break;
      case "screen":
        this.screen = update.screen;
        break;
      default:
        // Unknown kinds are ignored (SPEC §1): additive changes stay in v1.
        return false;
    }
    return true;
  }

  item(id) {
    return this.agenda.find((i) => i.id === id) || null;
  }

  /** The poll's live tally, or its outcome's tally once closed. */
  tallyOf(pollId) {
    const poll = this.polls.get(pollId);
    if (poll && poll.outcome) return poll.outcome.tally;
    return this.tallies.get(pollId) || null;
  }

  toJSON() {
    return {
      forum: this.forum,
      agenda: this.agenda,
      active_item: this.activeItem ?? undefined,
      ideas: [...this.ideas.values()],
      polls: [...this.polls.values()],
      tallies: [...this.tallies.values()],
      participants: this.participants,
      speakers: this.speakers || undefined,
      temperature: this.temperature || undefined,
      hall_check: this.hallCheck || undefined,
      screen: this.screen?.kind === "auto" ? undefined : this.screen,
      seq: this.seq,
    };
  }
}

/** A random request id (crypto.randomUUID needs a secure context; this does not). */
export function requestId(prefix = "r") {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return prefix + "-" + [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function readJSON(key) {
  try {
    const text = localStorage.getItem(key);
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

function writeJSON(key, value) {
  try {
    if (value === null || value === undefined) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage full or disabled (private mode): the page still works, it just forgets on reload.
  }
}

export const storage = { read: readJSON, write: writeJSON };

/**
 * A connection that stays up.
 *
 * options:
 *  - auth(): the `auth` frame to send (without last_seq; the client adds it)
 *  - persistKey: localStorage key prefix for the state, last_seq and unacknowledged commands
 *  - idPrefix: request id prefix
 *  - on: { welcome, change, tally, ack, error, status, refused }
 */
export class Client {
  constructor(options) {
    this.options = options;
    this.state = new ForumState();
    this.ws = null;
    this.status = "idle"; // idle | connecting | online | offline | refused
    this.attempt = 0;
    this.pending = new Map(); // request id -> frame
    this.welcome = null;
    this.skewMs = 0; // server clock minus ours, estimated from events' at_ms
    this.skewSamples = 0;
    this.retryTimer = null;
    this.heartbeat = null;
    this.lastFrameAt = 0;
    this.stopped = false;
    this.saveTimer = null;
    this.forumId = null;
    window.addEventListener("online", () => this.reconnectSoon(0));
    window.addEventListener("offline", () => {
      if (this.status === "online" || this.status === "connecting") this.setStatus("offline", { browserOffline: true });
    });
    window.addEventListener("pagehide", () => this.saveNow());
    this.visibleSince = 0;
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState !== "visible") return;
      // Back in view: the silence while hidden says nothing; ask the server now.
      this.visibleSince = Date.now();
      this.pingAt = 0;
      if (this.status !== "online") this.reconnectSoon(0);
    });
  }

  key(part) {
    return this.options.persistKey ? `${this.options.persistKey}.${part}` : null;
  }

  /** Restore state, last_seq and unacknowledged commands kept by an earlier page load. */
  restore() {
    if (!this.options.persistKey) return;
    const saved = readJSON(this.key("view"));
    if (saved && saved.forum && typeof saved.seq === "number") {
      this.state.loadSnapshot(saved);
    }
    const pending = readJSON(this.key("pending"));
    if (Array.isArray(pending)) for (const frame of pending) if (frame && frame.id) this.pending.set(frame.id, frame);
  }

  saveSoon() {
    if (!this.options.persistKey || this.saveTimer) return;
    this.saveTimer = setTimeout(() => this.saveNow(), 400);
  }

  saveNow() {
    clearTimeout(this.saveTimer);
    this.saveTimer = null;
    if (!this.options.persistKey) return;
    if (this.state.forum) writeJSON(this.key("view"), this.state.toJSON());
    writeJSON(this.key("pending"), [...this.pending.values()]);
  }

  forget() {
    if (!this.options.persistKey) return;
    writeJSON(this.key("view"), null);
    writeJSON(this.key("pending"), null);
    this.state.clear();
    this.pending.clear();
  }

  setStatus(status, detail = {}) {
    this.status = status;
    this.statusDetail = detail;
    this.options.on?.status?.(status, { ...detail, waiting: this.waiting() });
  }

  /** What is waiting for the server's answer: votes (ballots and comparisons) and other commands. */
  waiting() {
    let votes = 0;
    let other = 0;
    for (const frame of this.pending.values()) {
      if (frame.type === "cast_ballot" || frame.type === "cast_comparison") votes += 1;
      else other += 1;
    }
    return { votes, other };
  }

  /** Report the status again: what is waiting changed. */
  pendingChanged() {
    this.options.on?.status?.(this.status, { ...(this.statusDetail || {}), waiting: this.waiting() });
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeat);
    if (this.ws) this.ws.close(1000);
  }

  open() {
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    if (this.ws && (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)) return;
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
    let ws;
    try {
      ws = new WebSocket(url, SUBPROTOCOL);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    this.authed = false;
    this.setStatus("connecting");
    ws.onopen = () => {
      const auth = { type: "auth", ...this.options.auth() };
      if (this.state.forum && this.state.seq > 0) auth.last_seq = this.state.seq;
      ws.send(JSON.stringify(auth));
      this.lastFrameAt = Date.now();
    };
    ws.onmessage = (e) => {
      this.heard();
      let frame;
      try {
        frame = JSON.parse(e.data);
      } catch {
        return;
      }
      this.handle(frame);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      clearInterval(this.heartbeat);
      this.ws = null;
      if (e.code === 4001) {
        this.setStatus("refused");
        this.options.on?.refused?.(this.lastError);
        return;
      }
      this.scheduleRetry();
    };
    ws.onerror = () => {};
  }

  scheduleRetry() {
    if (this.stopped) return;
    this.attempt += 1;
    const base = Math.min(15000, 500 * 2 ** Math.min(this.attempt - 1, 5));
    const delay = Math.round(base / 2 + Math.random() * base / 2);
    this.setStatus("offline", { retryInMs: delay });
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  reconnectSoon(delay) {
    if (this.stopped || this.status === "refused") return;
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  /** Drop the socket (as a flaky network would) and reconnect. */
  drop() {
    if (this.ws) this.ws.close(4000, "client reconnect");
  }

  startHeartbeat() {
    clearInterval(this.heartbeat);
    this.pingAt = 0;
    this.unansweredSince = 0;
    this.heartbeat = setInterval(() => {
      const ws = this.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      const now = Date.now();
      const silent = now - this.lastFrameAt;
      const unanswered = this.unansweredSince ? now - this.unansweredSince : 0;
      if (unanswered > DEAD_MS) {
        // Dead even if the browser has not noticed: open a new connection.
        ws.close(4000, "heartbeat timeout");
        return;
      }
      // A visible page hears something every second (a frame or a pong), so a longer
      // silence is a server that stopped answering; a hidden one pings rarely
      // (phones in pockets), so only an unanswered ping says so.
      const visible = document.visibilityState === "visible";
      const stalled = visible ? silent > STALL_MS && now - this.visibleSince > STALL_MS : unanswered > STALL_MS;
      if (stalled && this.status === "online") this.setStatus("offline", { stalled: true });
      const every = visible ? 1000 : 20000;
      if (silent >= every - 250 && now - this.pingAt >= every) {
        this.pingAt = now;
        if (!this.unansweredSince) this.unansweredSince = now;
        try {
          ws.send(JSON.stringify({ type: "ping", id: "hb" }));
        } catch {
          // Closing: onclose reconnects.
        }
      }
    }, 250);
  }

  /** A frame arrived: the server answers again. */
  heard() {
    this.lastFrameAt = Date.now();
    this.unansweredSince = 0;
    if (this.status === "offline" && this.authed && this.ws?.readyState === WebSocket.OPEN) {
      this.setStatus("online");
      // What was kept back while the server was silent goes now (same ids: nothing is applied twice).
      for (const command of this.pending.values()) this.ws.send(JSON.stringify(command));
    }
  }

  handle(frame) {
    const on = this.options.on || {};
    switch (frame.type) {
      case "welcome": {
        this.welcome = frame;
        this.authed = true;
        this.attempt = 0;
        if (this.forumId && frame.forum_id !== this.forumId) this.state.clear();
        this.forumId = frame.forum_id;
        if (frame.snapshot) {
          this.state.loadSnapshot(frame.snapshot);
        }
        this.setStatus("online");
        this.startHeartbeat();
        on.welcome?.(frame);
        on.change?.({ kind: "snapshot" });
        // Send again what was not acknowledged, with the same request ids.
        for (const command of this.pending.values()) this.ws.send(JSON.stringify(command));
        this.saveSoon();
        break;
      }
      case "event": {
        if (typeof frame.at_ms === "number") {
          // at_ms was the server's clock before we received the frame, so each sample is a lower
          // bound of the skew: keep the largest (replayed old events do not pull it down).
          const sample = frame.at_ms - Date.now();
          this.skewMs = this.skewSamples++ ? Math.max(this.skewMs, sample) : sample;
        }
        if (frame.seq <= this.state.seq) break; // already applied (a replay overlapping a snapshot)
        this.state.apply(frame.update);
        this.state.seq = frame.seq;
        on.change?.(frame.update);
        this.saveSoon();
        break;
      }
      case "tally": {
        this.state.tallies.set(frame.tally.poll, frame.tally);
        on.tally?.(frame.tally);
        this.saveSoon();
        break;
      }
      case "temperature": {
        this.state.temperature = frame.temperature;
        on.temperature?.(frame.temperature);
        this.saveSoon();
        break;
      }
      case "supports": {
        // The latest support counts of the ideas listed; other ideas keep theirs.
        for (const { idea, remote, hall } of frame.ideas || []) {
          const known = this.state.ideas.get(idea);
          if (known) this.state.ideas.set(idea, { ...known, supports: { remote, hall } });
        }
        on.supports?.(frame.ideas || []);
        this.saveSoon();
        break;
      }
      case "ack": {
        const command = this.pending.get(frame.id);
        this.pending.delete(frame.id);
        this.saveSoon();
        on.ack?.(frame, command);
        this.pendingChanged();
        break;
      }
      case "error": {
        this.lastError = frame;
        const command = frame.id ? this.pending.get(frame.id) : undefined;
        if (frame.id && frame.code !== "unavailable" && frame.code !== "rate_limited") {
          this.pending.delete(frame.id);
          this.saveSoon();
        } else if (command) {
          // Not applied: try again, same id, a little later.
          setTimeout(() => {
            if (this.pending.has(frame.id) && this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(command));
          }, 1500);
        }
        on.error?.(frame, command);
        this.pendingChanged();
        break;
      }
      default:
        break; // pong, and message types from later versions
    }
  }

  /** Send a command; it is resent with the same id until answered. Returns its id. */
  send(type, fields = {}) {
    const frame = { type, id: requestId(this.options.idPrefix || "r"), ...fields };
    this.pending.set(frame.id, frame);
    this.saveNow();
    if (this.ws && this.ws.readyState === WebSocket.OPEN && this.status === "online") this.ws.send(JSON.stringify(frame));
    this.pendingChanged();
    return frame.id;
  }

  /** The server's clock now, in unix milliseconds (for countdowns). */
  serverNow() {
    return Date.now() + this.skewMs;
  }
}

/** Milliseconds left on an item's timer, or null when it has none. */
export function timerRemaining(item, serverNow) {
  const timer = item && item.timer;
  if (!timer) return item && item.timebox_secs ? item.timebox_secs * 1000 : null;
  if (timer.running && typeof timer.deadline_ms === "number") return Math.max(0, timer.deadline_ms - serverNow);
  return timer.remaining_ms ?? 0;
}

export function formatClock(ms) {
  if (ms === null || ms === undefined) return "";
  const total = Math.ceil(ms / 1000);
  const m = Math.floor(total / 60);
  const s = total % 60;
  return `${m}:${String(s).padStart(2, "0")}`;
}
