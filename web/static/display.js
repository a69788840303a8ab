// The projector display: /display#token=<display token>[&channel=hall|remote][&theme=dark|light][&lang=ko|en]
// Needs no input after opening; reconnects and resumes by itself.

import { Client } from "./client.js";
import { t, translate, setForumLanguage, setLanguage, onLanguageChange } from "./i18n.js";
import { h, $, replace, connectionBadge, renderAgenda, renderTally, tallySummary, politeAnnouncer, storedTheme, toggleTheme, speakerName, renderTemperature } from "./ui.js";
import { timerRemaining, formatClock } from "./client.js";

const params = new URLSearchParams(location.hash.slice(1));
const token = params.get("token");
const channel = params.get("channel") === "remote" ? "remote" : "hall";
storedTheme();
if (params.get("theme") === "dark" || params.get("theme") === "light") document.documentElement.dataset.theme = params.get("theme");
if (params.get("lang")) setLanguage(params.get("lang"));
translate();

const badge = connectionBadge($("#conn"));
const announce = politeAnnouncer($("#announce"), 8000);
let client = null;

/** The poll to show: an open one with visible results, else the latest closed one with an outcome. */
function featuredPoll(s) {
  const polls = [...s.polls.values()];
  const open = polls.filter((p) => p.status === "open").sort((a, b) => b.id - a.id);
  if (open.length) return open[0];
  const closed = polls.filter((p) => p.status === "closed" && p.outcome).sort((a, b) => b.id - a.id);
  return closed[0] || null;
}

function renderJoin() {
  const codes = client?.welcome?.join_codes;
  if (!codes) return;
  const code = codes[channel];
  const link = `${location.origin}/j/${code}`;
  $("#join").hidden = false;
  $("#join-code").textContent = code;
  $("#join-url").textContent = link.replace(/^https?:\/\//, "");
  const qr = $("#qr");
  const src = `/api/qr.svg?code=${encodeURIComponent(code)}`;
  if (qr.getAttribute("src") !== src) qr.src = src;
  qr.alt = t("display.qr_alt", { link });
}

let lastPollShown = null;

function render() {
  const s = client.state;
  if (!s.forum) return;
  setForumLanguage(s.forum.language);
  $("#forum-title").textContent = s.forum.title;
  document.title = `${s.forum.title} · ${t("app.name")}`;
  $("#counts").textContent = t("participants.count", { hall: s.participants.hall, remote: s.participants.remote });
  const item = s.item(s.activeItem);
  $("#current-title").textContent = item ? item.title : s.forum.status === "draft" ? t("status.draft") : t("agenda.none_active");
  replace($("#agenda"), renderAgenda(s, { compact: true }));
  renderSide();
  renderJoin();
  const poll = featuredPoll(s);
  if (!poll) {
    $("#poll-title").textContent = item ? t("ideas.title") : "";
    const ideas = [...s.ideas.values()].filter((i) => i.item === s.activeItem && i.status === "approved").slice(-12);
    replace($("#results"), ideas.length ? h("ul.ideas-wall", ideas.map((i) => h("li", i.text, " ", h("span.wall-support", { "data-support": i.id }, `♥ ${(i.supports?.remote || 0) + (i.supports?.hall || 0)}`)))) : h("p.muted", t("display.no_poll")));
    lastPollShown = null;
    return;
  }
  $("#poll-title").textContent = poll.title;
  const tally = s.tallyOf(poll.id);
  if (!poll.results_visible) replace($("#results"), h("p.muted", t("poll.results_hidden")));
  else replace($("#results"), renderTally(poll, tally));
  if (poll.results_visible && tally) announce(tallySummary(poll, tally));
  lastPollShown = poll.id;
}

function renderSide() {
  const s = client.state;
  const q = s.speakers;
  replace(
    $("#speakers"),
    q && (q.current || q.waiting.length)
      ? h(
          "div",
          q.current ? h("p.speaker-now", t("hand.current", { name: speakerName(q.current.speaker) }), " ", q.current.deadline_ms ? h("span#speech-clock") : null) : null,
          h("p", t("hand.waiting", { n: q.waiting.length })),
        )
      : null,
  );
  const temp = renderTemperature(s);
  replace($("#temperature"), temp ? [h("h2", t("temp.title")), temp] : null);
}

function tick() {
  const speech = client?.state.speakers?.current;
  const clock = document.getElementById("speech-clock");
  if (clock && speech?.deadline_ms) clock.textContent = formatClock(Math.max(0, speech.deadline_ms - client.serverNow()));
  if (!client?.state.forum) return;
  const item = client.state.item(client.state.activeItem);
  const ms = timerRemaining(item, client.serverNow());
  const el = $("#countdown");
  const text = ms === null ? "" : formatClock(ms);
  if (el.textContent !== text) el.textContent = text;
  const running = !!item?.timer?.running;
  el.classList.toggle("paused", !!item?.timer && !running);
  el.classList.toggle("low", running && ms !== null && ms <= 60000);
  el.classList.toggle("up", !!item?.timer && ms === 0);
}

if (!token) {
  replace($("#results"), h("p", { role: "alert" }, t("display.bad_link")));
  $("#conn").hidden = true;
} else {
  client = new Client({
    auth: () => ({ token }),
    on: {
      status: (status, detail) => badge.set(status, detail),
      change: render,
      temperature: () => client.state.forum && renderSide(),
      supports: () => lastPollShown === null && client.state.forum && render(),
      tally: (tally) => {
        if (tally.poll === lastPollShown || lastPollShown === null) render();
      },
      refused: () => replace($("#results"), h("p", { role: "alert" }, t("display.bad_link"))),
    },
  });
  client.start();
  setInterval(tick, 250);
}

onLanguageChange(() => {
  badge.render();
  if (client?.state.forum) render();
});

// A projector may have a keyboard: t toggles dark and light, l switches language, f goes full screen.
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === "t") toggleTheme();
  else if (e.key === "l") setLanguage(document.documentElement.lang === "ko" ? "en" : "ko");
  else if (e.key === "f") document.documentElement.requestFullscreen?.().catch(() => {});
});

window.madang = { get client() { return client; } };
