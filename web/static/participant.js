// The participant page: join by code (or by the QR link /j/CODE), follow the
// agenda, submit ideas, vote with every method, see results.

import { Client, storage } from "./client.js";
import { t, translate, mountLanguageSwitch, setForumLanguage, onLanguageChange } from "./i18n.js";
import { h, $, replace, connectionBadge, renderAgenda, startCountdowns, timerBlock, renderTally, tallySummary, politeAnnouncer, storedTheme, speakerName, renderTemperature } from "./ui.js";
import { ballotControl } from "./ballots.js";

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
let client = null;
let identity = null; // { token, forum, id, channel, name }
let ballots = {}; // poll id -> { state: sent|saved|error, id, ballot, message }
const drafts = new Map(); // poll id -> the ballot being edited
let pollsKey = "";

const identityKey = () => `madang.participant.${code}`;
const ballotsKey = () => identity && `madang.ballots.${identity.forum}.${identity.id}`;

function showJoin(message) {
  $("#app").hidden = true;
  $("#join-section").hidden = false;
  $("#join-code").value = code;
  $("#join-error").textContent = message || "";
  badge.set("idle");
  $("#conn").hidden = true;
  (code ? $("#join-name") : $("#join-code")).focus();
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
    persistKey: `madang.p.${code}`,
    idPrefix: "p",
    auth: () => (identity?.token ? { token: identity.token } : auth),
    on: {
      status: (status, detail) => badge.set(status, detail),
      welcome: onWelcome,
      change: render,
      tally: onTally,
      temperature: renderExtensions,
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
    storage.write(identityKey(), identity);
    storage.write("madang.last_code", code);
    ballots = storage.read(ballotsKey()) || {};
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
  storage.write(identityKey(), null);
  identity = null;
  if (error?.code === "invalid_state") showJoin(t("join.closed"));
  else if (error?.rule === "limit.participants") showJoin(t(error.rule));
  else showJoin(hadToken || error?.code === "unauthorized" ? t("join.refused") : t("error.generic", { message: error?.message || "" }));
}

function saveBallots() {
  if (ballotsKey()) storage.write(ballotsKey(), ballots);
}

function onAck(frame, command) {
  if (command?.type === "cast_ballot") {
    const b = ballots[command.poll];
    if (b && b.id === frame.id) {
      ballots[command.poll] = { ...b, state: "saved" };
      saveBallots();
      updateBallotState(command.poll);
    }
  } else if (command?.type === "submit_idea") {
    $("#idea-toast").textContent = client.state.forum?.premoderation ? t("ideas.pending_note") : t("ideas.sent");
  }
}

function onError(frame, command) {
  if (command?.type === "cast_ballot") {
    const b = ballots[command.poll];
    if (b && b.id === frame.id && frame.code !== "unavailable" && frame.code !== "rate_limited") {
      ballots[command.poll] = { ...b, state: "error", message: frame.message };
      saveBallots();
      updateBallotState(command.poll);
    }
  } else if (command?.type === "submit_idea") {
    // A forum limit has its own words; anything else shows the server's message.
    $("#idea-toast").textContent = frame.rule?.startsWith("limit.") ? t(frame.rule) : t("error.generic", { message: frame.message });
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

function ballotStateText(poll) {
  const b = ballots[poll.id];
  if (!b) return [poll.status === "closed" ? "closed" : "none", t(poll.status === "closed" ? "poll.state.closed" : "poll.state.none")];
  if (b.state === "error") return ["error", t("poll.state.error", { message: b.message || "" })];
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

function renderPolls() {
  const s = client.state;
  const polls = [...s.polls.values()].filter((p) => p.status === "open" || (p.status === "closed" && p.item === s.activeItem));
  polls.sort((a, b) => (a.status === b.status ? b.id - a.id : a.status === "open" ? -1 : 1));
  const key = JSON.stringify(polls.map((p) => [p.id, p.status, p.results_visible, p.options.map((o) => [o.id, o.merged_into || 0]), !!p.outcome])) + document.documentElement.lang;
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
        poll.status === "open"
          ? ballotControl(poll, {
              draft: () => drafts.get(poll.id),
              setDraft: (b) => drafts.set(poll.id, b),
              submitLabel: ballots[poll.id]?.state === "saved" ? t("poll.update") : t("poll.submit"),
              onSubmit: (ballot) => cast(poll, ballot),
              announce: (text) => ($("#announce").textContent = text),
            })
          : null,
        h(`p.ballot-state`, { id: `ballot-state-${poll.id}`, role: "status", "data-state": state }, text),
        poll.results_visible
          ? h("section.results", { "aria-label": t("poll.results") }, h("h4", t("poll.results")), h("div", { id: `tally-${poll.id}` }, renderTally(poll, tally)))
          : h("p.muted", t("poll.results_hidden")),
      );
    }),
  );
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
  const ideas = [...s.ideas.values()].filter((i) => i.item === s.activeItem && i.status === "approved");
  replace(
    $("#ideas"),
    ideas.length
      ? h(
          "ul.ideas",
          ideas.map((i) => h("li", h("span", i.text), h("div.idea-meta", i.author ? t("ideas.by", { name: i.author }) : "", i.channel ? h("span.badge", t(`ideas.${i.channel}`)) : null))),
        )
      : h("p.muted", item ? t("ideas.empty") : t("ideas.no_item")),
  );
  const canSubmit = s.forum.status === "live" && !!item;
  $("#idea-submit").disabled = !canSubmit;
  renderPolls();
  renderExtensions();
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
        h("p.hint", t("hand.hint")),
        q.current ? h("p", t("hand.current", { name: speakerName(q.current.speaker) })) : null,
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
}

onLanguageChange(() => {
  pollsKey = "";
  if (client) {
    badge.render();
    render();
    if (identity) $("#whoami").textContent = t("join.you", { id: identity.id, channel: t(`ideas.${identity.channel}`) });
  }
});

$("#join-form").addEventListener("submit", (e) => {
  e.preventDefault();
  code = $("#join-code").value.trim().toUpperCase();
  const name = $("#join-name").value.trim();
  if (!code) return;
  if (location.pathname !== `/j/${code}`) history.replaceState(null, "", `/j/${encodeURIComponent(code)}`);
  identity = storage.read(identityKey());
  start(identity?.token ? {} : { join_code: code, ...(name ? { name } : {}) });
});

$("#idea-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("#idea-text").value.trim();
  if (!text || !client) return;
  client.send("submit_idea", { text });
  $("#idea-text").value = "";
  $("#idea-toast").textContent = "";
});

$("#leave").addEventListener("click", () => {
  if (client) {
    client.stop();
    client.forget();
  }
  client = null;
  storage.write(identityKey(), null);
  identity = null;
  showJoin("");
});

startCountdowns({ state: { item: (id) => client?.state.item(id) }, serverNow: () => client?.serverNow() ?? Date.now() });

identity = code ? storage.read(identityKey()) : null;
if (identity?.token) start({});
else showJoin("");

// For tests and debugging: the live client.
window.madang = { get client() { return client; } };
