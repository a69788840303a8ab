// The participant page: join by code (or by the QR link /j/CODE), follow the
// agenda, submit ideas, vote with every method, see results.
//
// One device is one participant of a forum: the participant token is kept
// per forum (localStorage) and the device rejoins as itself by either code;
// there is no way to become a second participant on the same device.
// Before joining, the code is looked up (GET /api/join/{code}) so that the
// page shows the forum's title, and a closed forum's results.
// Every message is kept as a key and its values, not as text, so that
// switching language re-renders it; errors are worded from code and rule.

import { Client, storage } from "./client.js";
import { t, translate, mountLanguageSwitch, setForumLanguage, onLanguageChange, errorText } from "./i18n.js";
import { h, $, replace, connectionBadge, renderAgenda, startCountdowns, timerBlock, renderTally, tallySummary, politeAnnouncer, storedTheme, speakerName, renderTemperature, clockText } from "./ui.js";
import { ballotControl } from "./ballots.js";
import { outcomeWords } from "./summary.js";
import { followThroughView } from "./follow-through.js";
import { keepReceipt } from "./receipts.js";
import { receiptCard } from "./receipt-card.js";

storedTheme();
mountLanguageSwitch($("#lang"));
translate();

const badge = connectionBadge($("#conn"));
const announce = politeAnnouncer($("#announce"));

function codeFromLocation() {
  const m = location.pathname.match(/^\/j\/([^/]+)/);
  const raw = m ? decodeURIComponent(m[1]) : new URLSearchParams(location.search).get("code") || new URLSearchParams(location.hash.slice(1)).get("code");
  return raw ? raw.trim().toUpperCase() : "";
}

let code = codeFromLocation() || storage.read("madang.last_code") || "";
// A ticket card's QR link carries its ticket (?ticket=): kept in memory and
// taken out of the address bar, so that a shared link or screenshot of the
// page does not pass the ticket on.
let ticketFromLink = new URLSearchParams(location.search).get("ticket") || "";
if (ticketFromLink) history.replaceState(null, "", location.pathname);
let client = null;
let identity = null; // { token, forum, id, channel, name }
let forumInfo = null; // GET /api/join/{code}: { forum, title, language, status, channel }
let joinMessage = null; // () => the join form's message, in the current language
let toast = null; // () => the idea form's message
let ballots = {}; // poll id -> { state: sent|saved|error, id, ballot, message }
const drafts = new Map(); // poll id -> the ballot being edited
// Pairwise polls have no ballot: one pair at a time is asked for (`next_pair`) and answered (`cast_comparison`).
const pairs = new Map(); // poll id -> { pair: [a, b] | null, left, done, asking: request id | null }
let pollsKey = "";
// The ideas this participant supports: from the server's welcome, then kept
// by this page as its supports and withdrawals are answered.
let supported = new Set();

const codeKey = () => `madang.participant.${code}`;
/** The device's participant of a forum, whichever code it joined with. */
const forumKey = (forum) => `madang.participant.forum.${forum}`;
const identityOf = (forum) => (forum ? storage.read(forumKey(forum)) : null) || storage.read(codeKey());
const ballotsKey = () => identity && `madang.ballots.${identity.forum}.${identity.id}`;

function showJoin(message, { focus = "auto" } = {}) {
  $("#app").hidden = true;
  $("#join-section").hidden = false;
  $("#join-code").value = code;
  joinMessage = typeof message === "function" ? message : null;
  $("#join-error").textContent = joinMessage ? joinMessage() : "";
  badge.set("idle");
  $("#conn").hidden = true;
  renderForumInfo();
  const needsTicket = forumInfo?.eligibility === "ticketed" && !$("#join-ticket").value;
  const field = focus === "code" || !code ? $("#join-code") : focus === "ticket" || needsTicket ? $("#join-ticket") : $("#join-name");
  field.focus();
}

/** The forum the code belongs to, shown before joining; a closed forum's results instead of a dead end. */
function renderForumInfo() {
  const info = forumInfo;
  $("#forum-title").textContent = info ? info.title : t("join.title");
  $("#join-forum").textContent = info
    ? t("join.forum", { title: info.title }) + (info.eligibility === "ticketed" ? ` · ${t("join.ticketed")}` : "")
    : "";
  $("#join-forum").hidden = !info;
  const closed = info?.status === "closed";
  $("#join-form").hidden = closed;
  const ticketed = info?.eligibility === "ticketed";
  $("#ticket-field").hidden = !ticketed;
  $("#join-ticket").required = ticketed;
  if (ticketed && ticketFromLink && !$("#join-ticket").value) $("#join-ticket").value = ticketFromLink;
  $("#closed-results").hidden = !closed;
  if (closed) renderClosedResults();
}

let closedView = null;
async function renderClosedResults() {
  const info = forumInfo;
  const link = $("#results-link");
  link.href = `/forums/${encodeURIComponent(info.forum)}/record`;
  link.textContent = t("join.closed_results");
  if (!closedView || closedView.forum.id !== info.forum) {
    try {
      const res = await fetch(`/api/forums/${encodeURIComponent(info.forum)}`);
      closedView = res.ok ? await res.json() : null;
    } catch {
      closedView = null;
    }
  }
  const polls = (closedView?.polls || []).filter((p) => p.outcome && p.results_visible);
  replace(
    $("#closed-polls"),
    polls.length
      ? polls.map((poll) =>
          h(
            "article.poll",
            { "aria-labelledby": `closed-h-${poll.id}` },
            h("h3", { id: `closed-h-${poll.id}` }, poll.title, " ", h("span.badge", t(`method.${poll.method.kind}`))),
            renderTally(poll, poll.outcome.tally),
            followThroughView(poll),
          ),
        )
      : h("p.muted", t("join.results_none")),
  );
}

/** Look the code up before joining: the forum's title, language and status. */
async function lookUp(value) {
  let res;
  try {
    res = await fetch(`/api/join/${encodeURIComponent(value)}`);
  } catch {
    return { error: { code: "unavailable" } };
  }
  let body = null;
  try {
    body = await res.json();
  } catch {}
  if (res.ok && body?.forum) return { info: body };
  return { error: body?.error || { code: res.status === 429 ? "rate_limited" : "internal" }, status: res.status };
}

function showApp() {
  $("#join-section").hidden = true;
  $("#app").hidden = false;
  $("#conn").hidden = false;
}

function start(auth) {
  if (client) client.stop();
  pollsKey = "";
  client = new Client({
    persistKey: `madang.p.${forumInfo?.forum || code}`,
    idPrefix: "p",
    auth: () => (identity?.token ? { token: identity.token } : auth),
    on: {
      status: (status, detail) => badge.set(status, detail),
      welcome: onWelcome,
      change: render,
      tally: onTally,
      temperature: renderExtensions,
      supports: renderIdeas,
      ack: onAck,
      error: onError,
      refused: onRefused,
    },
  });
  if (identity?.token) {
    client.restore();
    ballots = storage.read(ballotsKey()) || {};
  }
  showApp();
  if (client.state.forum) render();
  client.start();
}

function onWelcome(frame) {
  if (frame.participant) {
    identity = { ...frame.participant, forum: frame.forum_id };
    storage.write(forumKey(frame.forum_id), identity);
    storage.write(codeKey(), identity);
    storage.write("madang.last_code", code);
    ballots = storage.read(ballotsKey()) || {};
    supported = new Set(frame.participant.supported || []);
    // A ballot that was sent but whose command is no longer pending was answered while we were away.
    for (const [poll, b] of Object.entries(ballots)) {
      if (b.state === "sent" && !client.pending.has(b.id)) ballots[poll] = { ...b, state: "saved" };
    }
  }
  $("#whoami").textContent = t("join.you", { id: identity.id, channel: t(`ideas.${identity.channel}`) });
}

function onRefused(error) {
  const hadToken = !!identity?.token;
  client.forget();
  client = null;
  if (identity?.forum) storage.write(forumKey(identity.forum), null);
  storage.write(codeKey(), null);
  identity = null;
  if (error?.code === "invalid_state") {
    if (forumInfo) forumInfo = { ...forumInfo, status: "closed" };
    showJoin(() => t("join.closed"));
  } else if (!hadToken && forumInfo?.eligibility === "ticketed" && error?.code === "unauthorized") {
    // A made-up or mistyped ticket: the code was right (it was looked up), the ticket was not.
    showJoin(() => t("join.ticket_refused"), { focus: "ticket" });
  } else if (hadToken || error?.code === "unauthorized") showJoin(() => t("join.refused"), { focus: "code" });
  else showJoin(() => errorText(error), { focus: error?.rule?.startsWith("ticket.") ? "ticket" : "auto" });
}

function saveBallots() {
  if (ballotsKey()) storage.write(ballotsKey(), ballots);
}

function onAck(frame, command) {
  if (command?.type === "next_pair") {
    pairs.set(command.poll, { pair: frame.pair, left: frame.pairs_left, done: false, asking: null });
    renderPair(command.poll);
  } else if (command?.type === "cast_comparison") {
    const b = ballots[command.poll];
    if (b && b.id === frame.id) {
      ballots[command.poll] = { ...b, state: "saved" };
      saveBallots();
      updateBallotState(command.poll);
    }
    askPair(command.poll);
  } else if (command?.type === "cast_ballot") {
    const b = ballots[command.poll];
    if (b && b.id === frame.id) {
      ballots[command.poll] = { ...b, state: "saved" };
      saveBallots();
      updateBallotState(command.poll);
    }
    // The receipt under which the record will publish this ballot (the latest one retires the one before).
    if (frame.receipt && identity?.forum) {
      keepReceipt(identity.forum, command.poll, frame.receipt, { ballot: command.ballot });
      updateReceipt(command.poll);
    }
  } else if (command?.type === "cast_comparison") {
    // A pairwise poll: one receipt for all of this person's answers, kept with each answer given.
    if (frame.receipt && identity?.forum) {
      keepReceipt(identity.forum, command.poll, frame.receipt, { comparison: { winner: command.winner, loser: command.loser, ...(command.skip ? { skip: true } : {}) } });
      updateReceipt(command.poll);
    }
  } else if (command?.type === "support_idea" || command?.type === "withdraw_support") {
    renderIdeas();
  } else if (command?.type === "submit_idea") {
    const key = client.state.forum?.premoderation ? "ideas.pending_note" : "ideas.sent";
    toast = () => t(key);
    $("#idea-toast").textContent = toast();
  }
}

function onError(frame, command) {
  if (command?.type === "next_pair" && frame.code !== "unavailable" && frame.code !== "rate_limited") {
    // `invalid_state`: every pair is answered (or the poll closed meanwhile).
    pairs.set(command.poll, { pair: null, done: frame.code === "invalid_state", asking: null, error: { code: frame.code, rule: frame.rule } });
    renderPair(command.poll);
    return;
  }
  if (command?.type === "cast_comparison" && frame.code !== "unavailable" && frame.code !== "rate_limited") askPair(command.poll);
  if (command?.type === "cast_ballot" || command?.type === "cast_comparison") {
    const b = ballots[command.poll];
    if (b && b.id === frame.id && frame.code !== "unavailable" && frame.code !== "rate_limited") {
      ballots[command.poll] = { ...b, state: "error", error: { code: frame.code, rule: frame.rule } };
      saveBallots();
      updateBallotState(command.poll);
    }
  } else if ((command?.type === "support_idea" || command?.type === "withdraw_support") && frame.code !== "unavailable" && frame.code !== "rate_limited") {
    // (Those two are sent again by the client.) `invalid_state` says the server already holds what was asked (a second
    // support, a withdrawal of none): the page now agrees; anything else undoes the tap.
    const supports = command.type === "support_idea";
    if ((frame.code === "invalid_state") === supports) supported.add(command.idea);
    else supported.delete(command.idea);
    renderIdeas();
  } else if (command?.type === "submit_idea") {
    const error = { code: frame.code, rule: frame.rule };
    toast = () => errorText(error);
    $("#idea-toast").textContent = toast();
  }
}

function onTally(tally) {
  const el = document.getElementById(`tally-${tally.poll}`);
  const poll = client.state.polls.get(tally.poll);
  if (el && poll) {
    replace(el, renderTally(poll, tally));
    announce(tallySummary(poll, tally));
  }
}

function cast(poll, ballot) {
  const id = client.send("cast_ballot", { poll: poll.id, ballot });
  ballots[poll.id] = { state: "sent", id, ballot };
  saveBallots();
  updateBallotState(poll.id);
}

/** Ask for this participant's next pair, once at a time (asking again before answering gives the same pair). */
function askPair(pollId) {
  const known = pairs.get(pollId);
  if (known?.asking && client.pending.has(known.asking)) return;
  pairs.set(pollId, { pair: null, done: false, asking: client.send("next_pair", { poll: pollId }) });
  renderPair(pollId);
}

function answerPair(poll, winner, loser, skip) {
  const id = client.send("cast_comparison", skip ? { poll: poll.id, winner, loser, skip: true } : { poll: poll.id, winner, loser });
  ballots[poll.id] = { state: "sent", id, ballot: null };
  saveBallots();
  updateBallotState(poll.id);
  // The next pair is asked for once this answer is acknowledged, so the server never offers this pair again.
  pairs.set(poll.id, { pair: null, done: false, asking: null });
  renderPair(poll.id);
}

/** The pair to answer now, two large buttons and "can't decide"; or why there is none. */
function renderPair(pollId) {
  const el = document.getElementById(`pair-${pollId}`);
  const poll = client?.state.polls.get(pollId);
  if (!el || !poll) return;
  const known = pairs.get(pollId);
  const hadFocus = el.contains(document.activeElement);
  const label = (id) => poll.options.find((o) => o.id === id)?.label ?? `#${id}`;
  if (known?.done) {
    replace(el, h("p.pair-done", t("pairwise.done")));
    return;
  }
  if (!known?.pair) {
    replace(el, h("p.muted", known?.error ? errorText(known.error) : t("pairwise.waiting")));
    return;
  }
  const [a, b] = known.pair;
  replace(
    el,
    h(
      "fieldset.pair-choice",
      h("legend", t("pairwise.question")),
      h(
        "div.pair-options",
        [[a, b], [b, a]].map(([winner, loser]) =>
          h("button.pair-option", { type: "button", "data-key": `pw-${pollId}-${winner}`, onclick: () => answerPair(poll, winner, loser, false) }, label(winner)),
        ),
      ),
      h("button.secondary.pair-skip", { type: "button", "data-key": `pw-skip-${pollId}`, onclick: () => answerPair(poll, a, b, true) }, t("pairwise.skip")),
      h("p.hint", t("pairwise.left", { n: known.left })),
    ),
  );
  if (hadFocus) el.querySelector(".pair-option")?.focus();
}

function ballotStateText(poll) {
  const b = ballots[poll.id];
  if (!b) return [poll.status === "closed" ? "closed" : "none", t(poll.status === "closed" ? "poll.state.closed" : "poll.state.none")];
  if (b.state === "error") return ["error", t("poll.state.error", { message: errorText(b.error || { code: "invalid" }) })];
  return [b.state, t(`poll.state.${b.state}`)];
}

function updateBallotState(pollId) {
  const el = document.getElementById(`ballot-state-${pollId}`);
  const poll = client?.state.polls.get(pollId);
  if (!el || !poll) return;
  const [state, text] = ballotStateText(poll);
  el.dataset.state = state;
  el.textContent = text;
  const submit = document.getElementById(`submit-${pollId}`);
  if (submit) submit.textContent = ballots[pollId]?.state === "saved" ? t("poll.update") : t("poll.submit");
}

/** The poll's receipt card (or an empty place for it), by its id. */
function receiptSlot(poll, prefix = "receipt") {
  const card = identity?.forum ? receiptCard(identity.forum, poll) : null;
  if (card) card.id = `${prefix}-${poll.id}`;
  return card || h("div", { id: `${prefix}-${poll.id}`, hidden: true });
}

function updateReceipt(pollId) {
  const el = document.getElementById(`receipt-${pollId}`);
  const poll = client?.state.polls.get(pollId);
  if (el && poll) el.replaceWith(receiptSlot(poll));
}

function renderPolls() {
  const s = client.state;
  const polls = [...s.polls.values()].filter((p) => p.status === "open" || (p.status === "closed" && p.item === s.activeItem));
  polls.sort((a, b) => (a.status === b.status ? b.id - a.id : a.status === "open" ? -1 : 1));
  const key = JSON.stringify(polls.map((p) => [p.id, p.status, p.results_visible, p.options.map((o) => [o.id, o.merged_into || 0]), !!p.outcome, p.follow_through || null])) + document.documentElement.lang;
  if (key === pollsKey) return;
  pollsKey = key;
  if (!polls.length) {
    replace($("#polls"), h("p.muted", t("poll.none")));
    return;
  }
  replace(
    $("#polls"),
    polls.map((poll) => {
      if (!drafts.has(poll.id) && ballots[poll.id]) drafts.set(poll.id, structuredClone(ballots[poll.id].ballot));
      const [state, text] = ballotStateText(poll);
      const tally = s.tallyOf(poll.id);
      return h(
        "article.poll",
        { "aria-labelledby": `poll-h-${poll.id}`, "data-poll": poll.id },
        h("h3", { id: `poll-h-${poll.id}` }, poll.title, " ", h("span.badge", t(`method.${poll.method.kind}`)), " ", h("span.badge", t(`poll.${poll.status}`))),
        // Said before anyone votes: a named vote publishes each ballot with its voter's name.
        poll.ballots === "named" ? h("p.named-notice", { role: "note" }, h("span", { "aria-hidden": "true" }, "👤 "), t("named.notice")) : null,
        poll.status === "open" && poll.method.kind === "pairwise"
          ? h("div.pairwise", { id: `pair-${poll.id}` })
          : poll.status === "open"
          ? ballotControl(poll, {
              draft: () => drafts.get(poll.id),
              setDraft: (b) => drafts.set(poll.id, b),
              submitLabel: ballots[poll.id]?.state === "saved" ? t("poll.update") : t("poll.submit"),
              onSubmit: (ballot) => cast(poll, ballot),
              announce: (text) => ($("#announce").textContent = text),
            })
          : null,
        h(`p.ballot-state`, { id: `ballot-state-${poll.id}`, role: "status", "data-state": state }, text),
        receiptSlot(poll),
        poll.results_visible
          ? h("section.results", { "aria-label": `${t("poll.results")}: ${poll.title}` }, h("h4", t("poll.results")), h("div", { id: `tally-${poll.id}` }, renderTally(poll, tally)))
          : h("p.muted", t("poll.results_hidden")),
        poll.status === "closed" ? followThroughView(poll) : null,
      );
    }),
  );
  for (const poll of polls) {
    if (poll.status !== "open" || poll.method.kind !== "pairwise") continue;
    if (pairs.get(poll.id)?.pair || pairs.get(poll.id)?.done || pairs.get(poll.id)?.asking) renderPair(poll.id);
    else askPair(poll.id);
  }
}

function render() {
  if (!client?.state.forum) return;
  const s = client.state;
  setForumLanguage(s.forum.language);
  $("#forum-title").textContent = s.forum.title;
  document.title = `${s.forum.title} · ${t("app.name")}`;
  $("#forum-status").textContent = t(`status.${s.forum.status}`);
  const item = s.item(s.activeItem);
  replace(
    $("#current"),
    item
      ? [h("p.current-title", h("strong", item.title)), item.description ? h("p.muted", item.description) : null, timerBlock(item)]
      : h("p.muted", t("agenda.none_active")),
  );
  replace($("#agenda"), renderAgenda(s));
  renderIdeas();
  const canSubmit = s.forum.status === "live" && !!item;
  $("#idea-submit").disabled = !canSubmit;
  renderPolls();
  renderExtensions();
  renderEnd();
}

/** Support an idea, or take the support back; the button shows the tap at once. */
function toggleSupport(idea) {
  const supports = !supported.has(idea.id);
  if (supports) supported.add(idea.id);
  else supported.delete(idea.id);
  client.send(supports ? "support_idea" : "withdraw_support", { idea: idea.id });
  renderIdeas();
  document.querySelector(`[data-key="support-${idea.id}"]`)?.focus();
}

/** The current item's approved ideas, each with its support count and this person's support button. */
function renderIdeas() {
  const s = client?.state;
  if (!s?.forum) return;
  const item = s.item(s.activeItem);
  const live = s.forum.status === "live";
  const ideas = [...s.ideas.values()].filter((i) => i.item === s.activeItem && i.status === "approved");
  const count = (i) => (i.supports?.remote || 0) + (i.supports?.hall || 0);
  replace(
    $("#ideas"),
    ideas.length
      ? h(
          "ul.ideas",
          ideas.map((i) => {
            const mine = supported.has(i.id);
            return h(
              "li.idea-row",
              { "data-idea": i.id },
              h("div.idea-body", h("span", i.text), h("div.idea-meta", i.author ? t("ideas.by", { name: i.author }) : "", i.channel ? h("span.badge", t(`ideas.${i.channel}`)) : null, mine ? h("span.supported-note", t("ideas.supported")) : null)),
              h(
                "button.support-button.secondary",
                {
                  type: "button",
                  "data-key": `support-${i.id}`,
                  "aria-pressed": String(mine),
                  "aria-label": t("ideas.support_of", { text: i.text, n: count(i) }),
                  disabled: !live,
                  onclick: () => toggleSupport(i),
                },
                h("span.support-icon", { "aria-hidden": "true" }, mine ? "♥" : "♡"),
                " ",
                h("span.support-label", t("ideas.support")),
              ),
              // The button's name says the count to screen readers.
              h("span.support-count", { "data-support": i.id, "aria-hidden": "true" }, String(count(i))),
            );
          }),
        )
      : h("p.muted", s.forum?.status === "closed" ? t("ideas.none_closed") : item ? t("ideas.empty") : t("ideas.no_item")),
  );
}

/** Once the forum closes: thanks, each closed poll's result in words, and where the record stays. */
function renderEnd() {
  const s = client?.state;
  const end = $("#end-section");
  const closed = s?.forum?.status === "closed";
  end.hidden = !closed;
  document.body.classList.toggle("forum-ended", !!closed);
  if (!closed) return;
  const polls = [...s.polls.values()].filter((p) => p.status === "closed").sort((a, b) => a.id - b.id);
  const record = `${location.origin}/j/${encodeURIComponent(code)}`;
  replace(
    end,
    h("h2#end-h", t("end.title")),
    h("p", t("end.text")),
    h("h3", t("end.decided")),
    polls.length
      ? h(
          "ul.end-decisions",
          polls.map((p) => h("li", { "data-end-poll": p.id }, h("strong", p.title), ": ", p.outcome ? outcomeWords(p, p.outcome.tally) : t("end.hidden"), receiptSlot(p, "end-receipt"))),
        )
      : h("p.muted", t("end.none")),
    h("p", t("end.record"), " ", h("a#end-record", { href: record }, record)),
    h("p", h("a#end-record-page", { href: `/forums/${encodeURIComponent(s.forum.id)}/record` }, t("end.record_page"))),
    h("p", h("a", { href: `/api/forums/${encodeURIComponent(s.forum.id)}` }, t("end.record_data"))),
  );
}

const signalKey = () => identity && `madang.signal.${identity.forum}.${identity.id}`;

/** The speaker queue and the temperature check (when the server has them). */
function renderExtensions() {
  const s = client?.state;
  if (!s?.forum) return;
  const live = s.forum.status === "live";
  const sections = [];
  if (s.speakers) {
    const q = s.speakers;
    const me = identity?.id;
    const place = q.waiting.findIndex((sp) => sp.participant === me);
    const onFloor = q.current?.speaker?.participant === me && me !== undefined;
    sections.push(
      h(
        "section.card#speak-section",
        { "aria-labelledby": "speak-h" },
        h("h2#speak-h", t("hand.title")),
        h("p.hint", t(`hand.hint.${q.policy}`) === `hand.hint.${q.policy}` ? t("hand.hint.fifo") : t(`hand.hint.${q.policy}`)),
        q.current
          ? h(
              "p",
              typeof q.current.deadline_ms === "number" && !onFloor
                ? [t("hand.current", { name: speakerName(q.current.speaker) }), " · ", h("strong#speech-clock.timer-value", { role: "timer" })]
                : t("hand.current", { name: speakerName(q.current.speaker) }),
            )
          : null,
        onFloor && typeof q.current.deadline_ms === "number"
          ? h("p.my-time", { id: "my-time" }, h("strong#speech-clock.timer-value", { role: "timer" }))
          : null,
        h("p", { role: "status", id: "hand-status", class: onFloor ? "floor" : "" }, onFloor ? t("hand.floor") : place >= 0 ? t("hand.place", { n: place + 1 }) : t("hand.waiting", { n: q.waiting.length })),
        place >= 0
          ? h("button.secondary", { type: "button", id: "hand-button", "data-key": "hand", onclick: () => client.send("lower_hand") }, t("hand.lower"))
          : h("button", { type: "button", id: "hand-button", "data-key": "hand", disabled: !live || onFloor, onclick: () => client.send("raise_hand") }, t("hand.raise")),
      ),
    );
  }
  if (live && s.activeItem) {
    const mine = (storage.read(signalKey()) || {})[s.activeItem];
    sections.push(
      h(
        "section.card#temp-section",
        { "aria-labelledby": "temp-h" },
        h("h2#temp-h", t("temp.title")),
        h("p.hint", t("temp.hint")),
        h(
          "div.signals",
          { role: "group", "aria-labelledby": "temp-h" },
          ["green", "yellow", "red"].map((color) =>
            h(
              `button.sig-${color}`,
              {
                type: "button",
                "aria-pressed": String(mine === color),
                "data-key": `sig-${color}`,
                onclick: () => {
                  const all = storage.read(signalKey()) || {};
                  all[s.activeItem] = color;
                  storage.write(signalKey(), all);
                  client.send("signal", { color });
                  renderExtensions();
                },
              },
              h("span.sig-dot", { "aria-hidden": "true" }),
              t(`temp.${color}`),
            ),
          ),
        ),
        renderTemperature(s),
      ),
    );
  }
  replace($("#extensions"), sections);
  tickSpeech();
}

/** The current speech's time left, or how far over it is ("+0:15 over"); the speaker's own phone says it is their time. */
function tickSpeech() {
  const el = document.getElementById("speech-clock");
  const q = client?.state.speakers;
  const deadline = q?.current?.deadline_ms;
  if (!el || typeof deadline !== "number") return;
  const left = deadline - client.serverNow();
  const mine = q.current.speaker?.participant === identity?.id;
  const text = mine ? t(left < 0 ? "hand.my_time_over" : "hand.my_time", { time: clockText(left) }) : clockText(left);
  if (el.textContent !== text) el.textContent = text;
  el.classList.toggle("up", left < 0);
}
setInterval(tickSpeech, 250);

onLanguageChange(() => {
  pollsKey = "";
  if (joinMessage) $("#join-error").textContent = joinMessage();
  if (toast) $("#idea-toast").textContent = toast();
  // Before joining, the heading is the forum's title or, without one, "Join the forum" in the new language.
  if (forumInfo || !client) renderForumInfo();
  if (client) {
    badge.render();
    render();
    if (identity) $("#whoami").textContent = t("join.you", { id: identity.id, channel: t(`ideas.${identity.channel}`) });
  }
});

$("#join-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const entered = $("#join-code").value.trim().toUpperCase();
  const name = $("#join-name").value.trim();
  if (!entered) return;
  if (entered !== code || !forumInfo) {
    $("#join-error").textContent = t("join.lookup");
    const found = await lookUp(entered);
    if (found.error) {
      const error = found.error;
      showJoin(() => (error.code === "not_found" || error.code === "unauthorized" ? t("join.refused") : errorText(error)), { focus: "code" });
      $("#join-code").value = entered;
      $("#join-code").select();
      return;
    }
    code = entered;
    forumInfo = found.info;
    setForumLanguage(forumInfo.language);
  }
  if (location.pathname !== `/j/${code}`) history.replaceState(null, "", `/j/${encodeURIComponent(code)}`);
  if (forumInfo.status === "closed") {
    showJoin(() => t("join.closed"));
    return;
  }
  identity = identityOf(forumInfo.forum);
  const ticket = forumInfo.eligibility === "ticketed" ? $("#join-ticket").value.trim() : "";
  start(identity?.token ? {} : { join_code: code, ...(name ? { name } : {}), ...(ticket ? { ticket } : {}) });
});

$("#idea-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("#idea-text").value.trim();
  if (!text || !client) return;
  client.send("submit_idea", { text });
  $("#idea-text").value = "";
  $("#idea-toast").textContent = "";
});

startCountdowns({ state: { item: (id) => client?.state.item(id) }, serverNow: () => client?.serverNow() ?? Date.now() });

/** First load: look the code up, then rejoin as this device's participant or show the join form. */
async function boot() {
  if (!code) {
    showJoin(null);
    return;
  }
  const found = await lookUp(code);
  if (found.info) {
    forumInfo = found.info;
    setForumLanguage(forumInfo.language);
    identity = identityOf(forumInfo.forum);
    if (forumInfo.status === "closed") showJoin(() => t("join.closed"));
    else if (identity?.token) start({});
    else showJoin(null);
  } else {
    // An unknown or unreachable code: a stored participant may still get in (its token is checked by the server).
    identity = storage.read(codeKey());
    if (identity?.token && found.error?.code !== "not_found") start({});
    else {
      const error = found.error;
      showJoin(() => (error?.code === "not_found" ? t("join.refused") : errorText(error)), { focus: "code" });
    }
  }
}
boot();

// For tests and debugging: the live client, and casting a ballot as the page does.
window.madang = {
  get client() {
    return client;
  },
  get supported() {
    return [...supported];
  },
  cast(pollId, ballot) {
    const poll = client?.state.polls.get(pollId);
    if (poll) cast(poll, ballot);
  },
};
