// The projector display: /display#token=<display token>[&channel=hall|remote][&theme=dark|light][&lang=ko|en]
// Needs no input after opening; reconnects and resumes by itself.
//
// It shows what the moderator put on screen (ForumState.screen, resolved by
// projector.js), redrawn within a frame of each change, and never lets
// anything run off the screen: a hall cannot scroll a projector, so every
// screen is fitted to the window (type size first, then columns).

import { Client, timerRemaining, formatClock } from "./client.js";
import { t, translate, setForumLanguage, setLanguage, onLanguageChange } from "./i18n.js";
import { h, $, replace, connectionBadge, politeAnnouncer, storedTheme, toggleTheme, speakerName, renderTemperature, renderAgenda } from "./ui.js";
import { resolveScreen, renderPollResult, verdictText, fit, fitPaged } from "./projector.js";

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
/** The polls on screen now: a tally of one of them redraws. */
let pollsShown = new Set();

function joinInfo() {
  const code = client?.welcome?.join_codes?.[channel];
  if (!code) return null;
  const link = `${location.origin}/j/${code}`;
  return { code, link, text: link.replace(/^https?:\/\//, "") };
}

function qrImage(join, className) {
  return h(`img.${className}`, { src: `/api/qr.svg?code=${encodeURIComponent(join.code)}`, alt: t("display.qr_alt", { link: join.link }) });
}

/** The column beside content: how to join (QR about a quarter of the height), who speaks, and (beside ideas and speakers) the temperature. */
function side(s, { temperature: withTemperature = false, speaker = true } = {}) {
  const join = joinInfo();
  const speech = speaker ? s.speakers?.current : null;
  const temperature = withTemperature ? renderTemperature(s) : null;
  return h(
    "aside.pj-side",
    { "aria-label": t("projector.side") },
    join
      ? h(
          "div.pj-side-join",
          qrImage(join, "pj-qr-side"),
          h("p.pj-side-url", h("span.pj-caption", t("display.join")), h("strong", join.text)),
          h("p.pj-side-code", h("span.pj-caption", t("display.code")), h("strong.pj-code#join-code", join.code)),
        )
      : null,
    speech ? h("p.pj-speaker.speaker-now", t("hand.current", { name: speakerName(speech.speaker) }), " ", speech.deadline_ms ? h("span#speech-clock.pj-clock") : null) : null,
    temperature ? h("div.pj-temperature#temperature", h("h2.pj-subtitle", t("temp.title")), temperature) : null,
    s.agenda.length ? h("nav.pj-agenda#agenda", { "aria-label": t("agenda.title") }, renderAgenda(s, { compact: true })) : null,
  );
}

function withSide(s, stage, options) {
  return [stage, side(s, options)];
}

function ideasStage(s) {
  const supportOf = (i) => (i.supports?.remote || 0) + (i.supports?.hall || 0);
  // The most supported first, as the hall sees what to discuss; newest first among equals.
  const ideas = [...s.ideas.values()]
    .filter((i) => i.item === s.activeItem && i.status === "approved")
    .sort((a, b) => supportOf(b) - supportOf(a) || b.id - a.id);
  const shown = ideas.slice(0, 30);
  const count = (i) =>
    h(
      "span.wall-support",
      { "data-support": i.id, title: t("ideas.supports", { n: supportOf(i), remote: i.supports?.remote || 0, hall: i.supports?.hall || 0 }) },
      h("span", { "aria-hidden": "true" }, "♥ "),
      String(supportOf(i)),
    );
  return h(
    "section.pj-stage.pj-ideas",
    { "aria-labelledby": "pj-ideas-title" },
    h("h2.pj-title#pj-ideas-title", t("ideas.title")),
    shown.length ? h("ul.pj-wall", shown.map((i) => h("li", i.text, " ", count(i)))) : h("p.pj-note", t("projector.no_ideas")),
    ideas.length > shown.length ? h("p.pj-note", t("projector.more_ideas", { n: ideas.length - shown.length })) : null,
  );
}

function speakersStage(s) {
  const q = s.speakers;
  return h(
    "section.pj-stage.pj-speakers",
    { "aria-labelledby": "pj-speakers-title" },
    h("h2.pj-title#pj-speakers-title", t("hand.title")),
    q?.current ? h("p.pj-speaker.pj-speaker-big.speaker-now", t("hand.current", { name: speakerName(q.current.speaker) }), " ", q.current.deadline_ms ? h("span#speech-clock.pj-clock") : null) : null,
    q?.waiting?.length ? h("ol.pj-wall.pj-queue", q.waiting.map((sp) => h("li", speakerName(sp)))) : h("p.pj-note", t("hand.none")),
  );
}

function joinSlide() {
  const join = joinInfo();
  if (!join) return h("section.pj-stage", h("p.pj-note", t("conn.connecting")));
  return h(
    "section.pj-join-slide",
    { "aria-labelledby": "pj-join-title" },
    qrImage(join, "pj-qr-big"),
    h(
      "div.pj-join-text",
      h("h2.pj-title#pj-join-title", t("projector.join_title")),
      h("p.pj-join-url", h("span.pj-caption", t("display.join")), h("strong", join.text)),
      h("p.pj-join-code", h("span.pj-caption", t("display.code")), h("strong.pj-code#join-code", join.code)),
    ),
  );
}

/** After the forum closed: thanks, what was decided, where the record is. No QR code, no speaker. */
function endStage(s) {
  const decided = [];
  for (const item of s.agenda) {
    const polls = [...s.polls.values()].filter((p) => p.item === item.id && p.status === "closed" && p.results_visible && p.outcome);
    for (const poll of polls) decided.push(h("li", h("span.pj-end-poll", `${item.title} — ${poll.title}: `), h("strong", verdictText(poll, poll.outcome.tally)), poll.outcome.record ? h("span.pj-end-fp", ` · ${poll.outcome.record.fingerprint}`) : null));
  }
  const record = `${location.origin}/forums/${encodeURIComponent(s.forum.id)}/record`;
  return h(
    "section.pj-stage.pj-end",
    { "aria-labelledby": "pj-end-title" },
    h("h2.pj-title#pj-end-title", t("projector.end_title")),
    h("h3.pj-subtitle", t("projector.end_decided")),
    decided.length ? h("ul.pj-wall.pj-decisions", decided) : h("p.pj-note", t("projector.end_nothing")),
    h("p.pj-record", h("span.pj-caption", t("projector.end_record")), h("strong", record.replace(/^https?:\/\//, ""))),
  );
}

function pollsStage(s, screen) {
  const results = screen.polls.map((poll, i) => renderPollResult(poll, s.tallyOf(poll.id), { step: screen.step, titleId: i === 0 ? "poll-title" : undefined }));
  return h("div.pj-stage#results" + (results.length > 1 ? ".pj-multi" : ""), results);
}

/** The page each long list is on, by what it lists (a poll, or the kind of screen), kept across redraws. */
const pageOf = new Map();
/** Lists shown in pages now: box, key and number of pages. */
let paged = [];
/** A calm pace: time to read a page of sentence-length options before the next. */
const PAGE_MS = 9000;
/** After a page turned by hand (a clicker), the pages wait this long before turning by themselves again. */
const HAND_PAGE_MS = 30000;
let nextTurnAt = Date.now() + PAGE_MS;

function pageKey(box) {
  return box.dataset.poll ? `poll:${box.dataset.poll}` : box.className;
}

/**
 * Legible type on a hall's screen: at least 3.1% of the height (22 px at
 * 720 lines, 33 px at 1080); what does not fit at that size goes in pages.
 */
function fitStage(box, multi) {
  const vh = innerHeight;
  const key = pageKey(box);
  const pages = fitPaged(box, { max: vh * 0.055, min: vh * 0.031, floor: vh * 0.016, maxColumns: multi ? 2 : 3, page: pageOf.get(key) || 0 });
  if (pages > 1) {
    pageOf.set(key, (pageOf.get(key) || 0) % pages);
    paged.push({ box, key, pages });
  } else pageOf.delete(key);
}

function fitScreen() {
  const vh = innerHeight;
  const body = $("#screen");
  const boxes = [...body.querySelectorAll(".pj-multi > .pj-result")];
  const stages = boxes.length ? boxes : [...body.querySelectorAll(".pj-stage")];
  paged = [];
  for (const box of stages) fitStage(box, boxes.length > 0);
  const side = body.querySelector(".pj-side");
  if (side) fitSide(side, { max: vh * 0.04, min: vh * 0.016, maxColumns: 1 });
}

/**
 * The side column never overflows: when it cannot fit, what the header
 * already says goes first (the agenda's other items, then the agenda, whose
 * current item is in the header), then the temperature.
 */
function fitSide(side, size) {
  const drops = [
    () => side.querySelectorAll(".pj-agenda li:not(.state-active)").forEach((li) => (li.hidden = true)),
    () => side.querySelector(".pj-agenda")?.setAttribute("hidden", ""),
    () => side.querySelector(".pj-temperature")?.setAttribute("hidden", ""),
  ];
  for (const drop of drops) {
    if (fit(side, size)) return;
    drop();
  }
  fit(side, size);
}

/** Every paged list one page on (or back), in place: nothing else is redrawn. */
function turnPages(by) {
  const now = paged;
  paged = [];
  for (const { box, key, pages } of now) {
    if (!box.isConnected) continue;
    pageOf.set(key, ((pageOf.get(key) || 0) + by + pages) % pages);
    fitStage(box, !!box.closest(".pj-multi"));
  }
}

let lastAnnounced = "";

function render() {
  const s = client.state;
  if (!s.forum) return;
  setForumLanguage(s.forum.language);
  $("#forum-title").textContent = s.forum.title;
  document.title = `${s.forum.title} · ${t("app.name")}`;
  $("#counts").textContent = t("participants.count", { hall: s.participants.hall, remote: s.participants.remote });
  const item = s.item(s.activeItem);
  $("#current-title").textContent = s.forum.status === "closed" ? "" : item ? item.title : s.forum.status === "draft" ? t("status.draft") : "";
  const screen = resolveScreen(s);
  $("#main").dataset.screen = screen.kind;
  pollsShown = new Set((screen.polls || []).map((p) => p.id));
  let content;
  if (screen.kind === "polls" || screen.kind === "result") content = withSide(s, pollsStage(s, screen));
  else if (screen.kind === "ideas") content = withSide(s, ideasStage(s), { temperature: true });
  else if (screen.kind === "speakers") content = withSide(s, speakersStage(s), { temperature: true, speaker: false });
  else if (screen.kind === "join") content = joinSlide();
  else if (screen.kind === "end") content = endStage(s);
  else content = [];
  replace($("#screen"), content);
  fitScreen();
  tick();
  const summary = screen.polls?.length === 1 && screen.polls[0].status === "closed" ? `${screen.polls[0].title}: ${verdictText(screen.polls[0], s.tallyOf(screen.polls[0].id))}` : "";
  if (summary && summary !== lastAnnounced) announce((lastAnnounced = summary));
}

/** Redraw at most once a frame, however many frames arrive. */
let queued = false;
function renderSoon() {
  if (queued) return;
  queued = true;
  requestAnimationFrame(() => {
    queued = false;
    render();
  });
}

function tick() {
  if (!client?.state.forum) return;
  const speech = client.state.speakers?.current;
  const clock = document.getElementById("speech-clock");
  if (clock && speech?.deadline_ms) {
    const left = speech.deadline_ms - client.serverNow();
    const text = left >= 0 ? formatClock(left) : t("projector.over_time", { time: formatClock(-left) });
    const longer = text.length !== clock.textContent.length;
    clock.textContent = text;
    clock.classList.toggle("over", left < 0);
    // "over by" is longer than the count down: the column is fitted again so that it still fits.
    const side = clock.closest(".pj-side");
    if (longer && side) fitSide(side, { max: innerHeight * 0.04, min: innerHeight * 0.016, maxColumns: 1 });
  }
  const item = client.state.item(client.state.activeItem);
  const ms = timerRemaining(item, client.serverNow());
  const el = $("#countdown");
  const text = ms === null || client.state.forum.status === "closed" ? "" : formatClock(ms);
  if (el.textContent !== text) el.textContent = text;
  const running = !!item?.timer?.running;
  el.classList.toggle("paused", !!item?.timer && !running);
  el.classList.toggle("low", running && ms !== null && ms <= 60000);
  el.classList.toggle("up", !!item?.timer && ms === 0);
}

if (!token) {
  replace($("#screen"), h("p.pj-note", { role: "alert" }, t("display.bad_link")));
  $("#conn").hidden = true;
} else {
  client = new Client({
    auth: () => ({ token }),
    on: {
      status: (status, detail) => badge.set(status, detail),
      change: renderSoon,
      temperature: renderSoon,
      supports: renderSoon,
      tally: (tally) => {
        if (pollsShown.has(tally.poll)) renderSoon();
      },
      refused: () => replace($("#screen"), h("p.pj-note", { role: "alert" }, t("display.bad_link"))),
    },
  });
  client.start();
  setInterval(tick, 250);
  setInterval(() => {
    // A list that has just become long gets its full time on its first page.
    if (!paged.length) nextTurnAt = Math.max(nextTurnAt, Date.now() + PAGE_MS);
    if (!paged.length || Date.now() < nextTurnAt) return;
    nextTurnAt = Date.now() + PAGE_MS;
    turnPages(1);
  }, 500);
}

onLanguageChange(() => {
  badge.render();
  if (client?.state.forum) renderSoon();
});
addEventListener("resize", () => client?.state.forum && renderSoon());

// A projector may have a keyboard: t toggles dark and light, l switches language, f goes full screen,
// PageDown and PageUp (or the arrows) turn the pages of a long list.
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === "t") toggleTheme();
  else if (e.key === "l") setLanguage(document.documentElement.lang === "ko" ? "en" : "ko");
  else if (e.key === "f") document.documentElement.requestFullscreen?.().catch(() => {});
  // A presenter's clicker sends these: the next or the previous page of a long list.
  else if (e.key === "PageDown" || e.key === "ArrowRight" || e.key === "PageUp" || e.key === "ArrowLeft") {
    nextTurnAt = Date.now() + HAND_PAGE_MS;
    turnPages(e.key === "PageDown" || e.key === "ArrowRight" ? 1 : -1);
  }
});

window.madang = { get client() { return client; } };
