// The public record page (/forums/{id}/record): what a forum decided, read
// from its public record (GET /api/forums/{id}/record, RECORD.md), in words
// first and charts second, with each outcome's fingerprint, a box to check a
// receipt, downloads (the record as JSON lines, a CSV per poll) and the feed.
// No token: anyone may read it. While the forum runs the page fetches the
// record again every few seconds (cheap: the server caches it by log head);
// the record is the honest source, the WebSocket's public view is not needed.

import { t, formatNumber, formatDateTime, translate, mountLanguageSwitch, onLanguageChange, setForumLanguage } from "./i18n.js";
import "./i18n-record.js";
import { h, $, replace, renderTally, storedTheme } from "./ui.js";
import { outcomeWords } from "./summary.js";
import { outcomeCsv } from "./csv.js";
import { normalizeReceipt, ballotWords, parseRecord, findReceipt } from "./receipts.js";
import { followThroughView } from "./follow-through.js";

const REFRESH_MS = 5000;
const forumId = decodeURIComponent(location.pathname.split("/")[2] || "");
const recordUrl = `/api/forums/${encodeURIComponent(forumId)}/record`;

let text = "";
let lines = [];
let model = null;
let chain = null;

/** The forum as the record tells it: items, ideas and polls, each with what followed. */
function build(lines) {
  const m = { forum: null, status: "draft", items: new Map(), order: [], ideas: new Map(), polls: new Map(), actions: new Map(), headcount: null, current: null, last_ms: 0 };
  for (const line of lines) {
    m.last_ms = Math.max(m.last_ms, line.at_ms || 0);
    switch (line.type) {
      case "forum":
        m.forum = line;
        break;
      case "forum_started":
        m.status = "live";
        break;
      case "forum_closed":
        m.status = "closed";
        m.current = null;
        break;
      case "item_added":
        m.items.set(line.item, { id: line.item, title: line.title, description: line.description, state: "pending" });
        m.order.push(line.item);
        break;
      case "item_edited": {
        const item = m.items.get(line.item);
        if (item) for (const k of ["title", "description"]) if (line[k] !== undefined) item[k] = line[k];
        break;
      }
      case "item_moved":
        m.order = m.order.filter((id) => id !== line.item);
        m.order.splice(line.position, 0, line.item);
        break;
      case "item_removed": {
        const item = m.items.get(line.item);
        if (item) item.removed = true;
        m.order = m.order.filter((id) => id !== line.item);
        break;
      }
      case "item_activated": {
        if (line.completed && m.items.get(line.completed)) m.items.get(line.completed).state = "done";
        const item = m.items.get(line.item);
        if (item) item.state = "current";
        m.current = line.item;
        break;
      }
      case "item_completed": {
        const item = m.items.get(line.item);
        if (item) item.state = "done";
        if (m.current === line.item) m.current = null;
        break;
      }
      case "idea_published":
        m.ideas.set(line.idea, { id: line.idea, item: line.item, text: line.text, channel: line.channel, hidden: false, into: null });
        break;
      case "idea_hidden":
        if (m.ideas.get(line.idea)) m.ideas.get(line.idea).hidden = true;
        break;
      case "idea_merged":
        if (m.ideas.get(line.idea)) m.ideas.get(line.idea).into = line.into;
        break;
      case "headcount":
        m.headcount = line.count;
        break;
      case "poll_opened":
        m.polls.set(line.poll, { id: line.poll, item: line.item, title: line.title, method: line.method, options: line.options.map((o) => ({ ...o })), status: "open", opened_ms: line.at_ms, ballots_kind: line.ballots || "secret" });
        break;
      // Follow-through (RECORD.md §3), in the shape the pages show it (SPEC PollView.follow_through).
      case "response_recorded": {
        const poll = m.polls.get(line.poll);
        if (!poll) break;
        poll.follow_through ||= { responses: [], actions: [] };
        poll.follow_through.responses.push({ at_ms: line.at_ms, body: line.body, response: line.response, reasons: line.reasons });
        break;
      }
      case "action_planned": {
        const poll = m.polls.get(line.poll);
        if (!poll) break;
        poll.follow_through ||= { responses: [], actions: [] };
        const action = { id: line.action, title: line.title, target_date: line.target_date, planned_at_ms: line.at_ms, status: "planned", updates: [] };
        poll.follow_through.actions.push(action);
        m.actions.set(line.action, action);
        break;
      }
      case "action_updated": {
        const action = m.actions.get(line.action);
        if (!action) break;
        action.status = line.status;
        action.updates.push({ at_ms: line.at_ms, status: line.status, note: line.note });
        break;
      }
      case "poll_ballots": {
        const poll = m.polls.get(line.poll);
        if (!poll) break;
        poll.ballots = line;
        for (const merge of line.merged_options || []) {
          const option = poll.options.find((o) => o.id === merge.option);
          if (option && merge.counts_for !== merge.option) option.merged_into = merge.counts_for;
        }
        break;
      }
      case "poll_outcome": {
        const poll = m.polls.get(line.poll);
        if (!poll) break;
        poll.status = "closed";
        poll.outcome = line.outcome;
        break;
      }
      default:
        // A line type this page does not know (RECORD.md §8): skipped.
        break;
    }
  }
  return m;
}

/** Check the chain (RECORD.md §1) over the exact bytes, where the browser offers SHA-256 (secure contexts only). */
async function checkChain(raw) {
  if (!crypto?.subtle) return null;
  const bytes = new TextEncoder().encode(raw);
  let start = 0;
  let prev = "0".repeat(64);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 10) continue;
    const line = bytes.subarray(start, i);
    n += 1;
    let parsed;
    try {
      parsed = JSON.parse(new TextDecoder().decode(line));
    } catch {
      return { ok: false, n };
    }
    if (parsed.prev !== prev || parsed.n !== n) return { ok: false, n };
    prev = [...new Uint8Array(await crypto.subtle.digest("SHA-256", line))].map((b) => b.toString(16).padStart(2, "0")).join("");
    start = i + 1;
  }
  return { ok: true, n, head: prev };
}

const when = formatDateTime;

function labelOf(poll, id) {
  return poll.options.find((o) => o.id === id)?.label ?? `#${id}`;
}

function methodWords(method) {
  return method.kind === "ranked" ? `${t("method.ranked")} (${t(`ranked_tally.${method.tally || "borda"}`)})` : t(`method.${method.kind}`);
}

/** A download link for text made in the page (a Blob URL: no request, allowed by the CSP). */
function downloadLink(label, name, type, content, attrs = {}) {
  const a = h("a.download", { download: name, ...attrs }, label);
  a.href = URL.createObjectURL(new Blob([content], { type }));
  return a;
}

// ---------- charts ----------

/** Per option (or yes/no/abstain): hall devices, hall hand count and online, as one stacked bar each. */
function splitBars(poll, tally) {
  const r = tally.result;
  const bc = tally.by_channel;
  if (!bc || tally.no_votes || tally.ballots === 0) return null;
  let rows;
  const part = (name, fn) => (bc[name]?.result ? fn(bc[name].result) : 0);
  if (r.method === "yes_no") {
    rows = ["yes", "no", "abstain"].map((k) => ({ key: k, label: t(`yes_no.${k}`), hall: part("hall", (x) => x[k]), paper: part("hall_count", (x) => x[k]), remote: part("remote", (x) => x[k]) }));
  } else {
    const measure = r.method === "ranked" ? "first_choices" : ["approval", "dots", "single_choice"].includes(r.method) ? "counts" : null;
    if (!measure) return null;
    const count = (res, id) => (res[measure] || []).find((c) => c.option === id)?.count || 0;
    rows = poll.options.filter((o) => !o.merged_into).map((o) => ({ key: o.id, label: o.label, hall: part("hall", (x) => count(x, o.id)), paper: part("hall_count", (x) => count(x, o.id)), remote: part("remote", (x) => count(x, o.id)) }));
  }
  const max = Math.max(1, ...rows.map((x) => x.hall + x.paper + x.remote));
  const seg = (cls, n) => {
    const s = h(`span.seg.${cls}`, { "aria-hidden": "true" });
    s.style.width = `${(n / max) * 100}%`;
    return s;
  };
  return h(
    "figure.chart.split",
    h("figcaption", t(r.method === "ranked" ? "record.split_first" : "record.split_title")),
    h(
      "ul.legend",
      { "aria-hidden": "true" },
      h("li", h("span.swatch.hall"), t("record.split_hall")),
      h("li", h("span.swatch.paper"), t("record.split_paper")),
      h("li", h("span.swatch.remote"), t("record.split_remote")),
    ),
    h(
      "ul.split-rows",
      rows.map((x) =>
        h(
          "li.split-row",
          { "data-option": x.key },
          h("span.split-label", x.label),
          h("span.split-track", seg("hall", x.hall), seg("paper", x.paper), seg("remote", x.remote)),
          h("span.split-total", formatNumber(x.hall + x.paper + x.remote)),
          h("span.visually-hidden", t("record.split_caption", { label: x.label, hall: formatNumber(x.hall), paper: formatNumber(x.paper), remote: formatNumber(x.remote) })),
        ),
      ),
    ),
  );
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** Instant-runoff as a flow: a column per round, a block per option as tall as its votes, bands to the next round. */
function runoffFlow(poll, irv) {
  const rounds = irv.rounds || [];
  if (rounds.length < 2) return null;
  const ids = [...new Set(rounds.flatMap((r) => r.counts.map((c) => c.option)))];
  const total = Math.max(1, ...rounds.map((r) => r.counts.reduce((n, c) => n + c.count, 0) + (r.exhausted || 0)));
  const W = 640;
  const H = 260;
  const colW = 70;
  const gap = 6;
  const usable = H - gap * ids.length;
  const step = rounds.length > 1 ? (W - colW) / (rounds.length - 1) : 0;
  const pos = rounds.map((round) => {
    let y = 0;
    const at = new Map();
    for (const id of ids) {
      const c = round.counts.find((x) => x.option === id);
      if (!c) continue;
      const hgt = (c.count / total) * usable;
      at.set(id, { y, h: hgt, count: c.count });
      y += hgt + gap;
    }
    return at;
  });
  const hue = (id) => `c${(ids.indexOf(id) % 6) + 1}`;
  const bands = [];
  const band = (cls, x0, y0, x1, y1, hgt) => {
    const mx = (x0 + x1) / 2;
    return s("path", { class: cls, d: `M${x0},${y0} C${mx},${y0} ${mx},${y1} ${x1},${y1} L${x1},${y1 + hgt} C${mx},${y1 + hgt} ${mx},${y0 + hgt} ${x0},${y0 + hgt} Z` });
  };
  for (let i = 0; i + 1 < rounds.length; i++) {
    const x0 = i * step + colW;
    const x1 = (i + 1) * step;
    for (const id of ids) {
      const a = pos[i].get(id);
      const b = pos[i + 1].get(id);
      if (!a || !b) continue;
      bands.push(band(`band ${hue(id)}`, x0, a.y, x1, b.y, (Math.min(a.count, b.count) / total) * usable));
    }
    // Where an eliminated option's votes went: exact when it left alone (each gain next round came from it);
    // when several left together the counts do not say whose votes went where, so no band is drawn.
    const out = rounds[i].eliminated;
    const from = out.length === 1 ? pos[i].get(out[0]) : null;
    if (!from) continue;
    let y = from.y;
    for (const id of ids) {
      const a = pos[i].get(id);
      const b = pos[i + 1].get(id);
      if (!a || !b || b.count <= a.count) continue;
      const hgt = ((b.count - a.count) / total) * usable;
      bands.push(band(`band moved ${hue(out[0])}`, x0, y, x1, b.y + (a.count / total) * usable, hgt));
      y += hgt;
    }
  }
  const blocks = rounds.map((round, i) =>
    [...pos[i].entries()].map(([id, p]) =>
      s(
        "g",
        { class: `block ${hue(id)}${round.eliminated.includes(id) ? " out" : ""}` },
        s("rect", { x: i * step, y: p.y, width: colW, height: Math.max(1, p.h), rx: 3 }),
        p.h >= 14 ? s("text", { x: i * step + colW / 2, y: p.y + Math.min(p.h / 2, 16) + 5, "text-anchor": "middle" }, formatNumber(p.count)) : null,
      ),
    ),
  );
  const names = ids.map((id) => h("li", h("span.swatch." + hue(id), { "aria-hidden": "true" }), labelOf(poll, id)));
  return h(
    "figure.chart.flow",
    h("figcaption", t("record.flow_title")),
    h("p.hint", t("record.flow_desc")),
    h("ul.legend", names),
    s("svg", { viewBox: `0 0 ${W} ${H + 20}`, role: "img", "aria-label": t("record.flow_title"), preserveAspectRatio: "xMidYMid meet" }, bands, blocks, rounds.map((_, i) => s("text", { x: i * step + colW / 2, y: H + 16, "text-anchor": "middle", class: "axis" }, t("irv.round", { n: i + 1 })))),
  );
}

/** The Schulze pairwise matrix as a heat map (a table, so it reads aloud and prints). */
function heatMap(poll, ranked) {
  const sch = ranked?.schulze;
  const ids = ranked?.options;
  if (!sch?.pairwise || !ids?.length) return null;
  const max = Math.max(1, ...sch.pairwise.flat());
  return h(
    "figure.chart.heat",
    h("figcaption", t("record.heat_title")),
    h("p.hint", t("record.heat_desc")),
    h(
      "div.table-wrap",
      h(
        "table.heat-table",
        h("thead", h("tr", h("th", { scope: "col" }, t("record.heat_corner")), ids.map((id) => h("th", { scope: "col" }, labelOf(poll, id))))),
        h(
          "tbody",
          ids.map((row, i) =>
            h(
              "tr",
              h("th", { scope: "row" }, labelOf(poll, row)),
              ids.map((_, j) => {
                if (i === j) return h("td.self", { "aria-label": "—" }, "—");
                const v = sch.pairwise[i][j];
                const td = h(`td${v > sch.pairwise[j][i] ? ".wins" : ""}`, formatNumber(v));
                const level = Math.round((v / max) * 5);
                td.dataset.level = String(level);
                return td;
              }),
            ),
          ),
        ),
      ),
    ),
  );
}

/** Pairwise strengths on a log scale with ±1.96 standard errors: a dot and its interval per option. */
function strengths(poll, result) {
  const stats = result.stats || [];
  if (!stats.length) return null;
  const lo = (x) => x.log_strength - 1.96 * (x.std_error || 0);
  const hi = (x) => x.log_strength + 1.96 * (x.std_error || 0);
  const min = Math.min(...stats.map(lo));
  const max = Math.max(...stats.map(hi));
  const span = Math.max(1e-9, max - min);
  const pct = (v) => ((v - min) / span) * 100;
  const order = [...stats].sort((a, b) => b.log_strength - a.log_strength);
  const mark = (cls, left, width) => {
    const el = h(`span.${cls}`);
    el.style.left = `${left}%`;
    if (width !== undefined) el.style.width = `${width}%`;
    return el;
  };
  return h(
    "figure.chart.strengths",
    h("figcaption", t("record.strength_title")),
    h("p.hint", t("record.strength_desc")),
    h(
      "ul.strength-rows",
      order.map((st) =>
        h(
          "li.strength-row",
          { "data-option": st.option },
          h("span.strength-label", labelOf(poll, st.option)),
          h(
            "span.strength-track",
            { "aria-hidden": "true" },
            min < 0 && max > 0 ? mark("zero", pct(0)) : null,
            mark("ci", pct(lo(st)), pct(hi(st)) - pct(lo(st))),
            mark("est", pct(st.log_strength)),
          ),
          h("span.strength-value", formatNumber(st.strength, 2)),
          h("span.visually-hidden", t("record.strength_row", { label: labelOf(poll, st.option), s: formatNumber(st.strength, 2), lo: formatNumber(Math.exp(lo(st)), 2), hi: formatNumber(Math.exp(hi(st)), 2) })),
        ),
      ),
    ),
  );
}

// ---------- the page ----------

function pollCsv(poll) {
  return outcomeCsv({ polls: new Map([[poll.id, poll]]), tallyOf: () => poll.outcome?.tally });
}

function renderPoll(poll) {
  const out = poll.outcome;
  const head = h("h4", { id: `poll-${poll.id}-h` }, poll.title);
  if (!out) {
    return h("article.record-poll.open", { id: `poll-${poll.id}`, "data-poll": poll.id, "aria-labelledby": `poll-${poll.id}-h` }, head, h("p.muted", methodWords(poll.method)), h("p", t("record.poll_open")));
  }
  const tally = out.tally;
  const b = poll.ballots;
  const facts = h(
    "dl.record-facts",
    h("dt", t("record.decided")),
    h("dd.record-verdict", outcomeWords(poll, tally)),
    h("dt", t("record.method")),
    h("dd", methodWords(poll.method)),
    h("dt", t("record.closed_at")),
    h("dd", when(out.closed_at_ms)),
    out.record ? [h("dt", t("record.fingerprint")), h("dd", h("code.fingerprint", { "data-fingerprint": out.record.fingerprint }, out.record.fingerprint), h("span.hint", ` ${t("record.fingerprint_hint")}`))] : null,
  );
  const notes = [];
  if (b) {
    notes.push(t("record.ballots_n", { n: formatNumber(b.ballots.length) }));
    const p = b.participants || {};
    notes.push(t("record.participants", { hall: formatNumber(p.hall || 0), remote: formatNumber(p.remote || 0) }) + (typeof p.headcount === "number" ? `, ${t("record.headcount", { n: formatNumber(p.headcount) })}` : ""));
    if ((b.hall_counts || []).length > 1) notes.push(t("record.hand_corrections", { n: formatNumber(b.hall_counts.length) }));
  }
  const r = tally.result;
  const none = tally.no_votes || tally.ballots === 0;
  const decisive = r.method === "ranked" ? r.tally || "borda" : null;
  const charts = [
    renderTally(poll, tally),
    splitBars(poll, tally),
    !none && decisive === "instant_runoff" && tally.ranked?.instant_runoff ? runoffFlow(poll, tally.ranked.instant_runoff) : null,
    !none && r.method === "ranked" ? heatMap(poll, tally.ranked) : null,
    !none && r.method === "pairwise" ? strengths(poll, r) : null,
  ];
  return h(
    "article.record-poll",
    { id: `poll-${poll.id}`, "data-poll": poll.id, "aria-labelledby": `poll-${poll.id}-h` },
    head,
    facts,
    h("p.muted.record-notes", notes.join(" · ")),
    poll.ballots_kind === "named" ? h("p.named-notice", t("record.named")) : null,
    h("div.record-charts", charts),
    followThroughView(poll, { headingLevel: "h5" }),
    h("p.no-print", downloadLink(t("record.download_csv"), `${forumId}-poll-${poll.id}.csv`, "text/csv;charset=utf-8", "\ufeff" + pollCsv(poll), { "data-csv": poll.id })),
  );
}

function renderItem(m, item) {
  const polls = [...m.polls.values()].filter((p) => p.item === item.id);
  const ideas = [...m.ideas.values()].filter((i) => i.item === item.id && !i.hidden);
  const state = item.state === "done" ? t("record.item_done") : item.state === "current" && m.status !== "closed" ? t("record.item_current") : null;
  return h(
    "section.record-item.card",
    { "data-item": item.id, "aria-labelledby": `item-${item.id}-h` },
    h("h3", { id: `item-${item.id}-h` }, item.title, state ? h("span.badge", state) : null, item.removed ? h("span.badge", t("record.item_removed")) : null),
    item.description ? h("p", item.description) : null,
    polls.length ? polls.map(renderPoll) : h("p.muted", t("record.no_polls")),
    ideas.length
      ? h(
          "div.record-ideas",
          h("h4", t("record.ideas", { n: formatNumber(ideas.length) })),
          h(
            "ul",
            ideas.map((i) =>
              h("li", i.text, i.channel ? h("span.muted", ` (${t(i.channel === "hall" ? "record.idea_hall" : "record.idea_remote")})`) : null, i.into ? h("span.muted", ` · ${t("record.idea_merged", { into: i.into })}`) : null),
            ),
          ),
        )
      : null,
  );
}

function render() {
  const main = $("#record-body");
  if (!model?.forum) return;
  const m = model;
  document.title = t("record.doc_title", { title: m.forum.title });
  $("#forum-title").textContent = m.forum.title;
  const items = m.order.map((id) => m.items.get(id)).filter(Boolean);
  // Polls on items later removed still decided something: their items are listed last.
  const removed = [...m.items.values()].filter((i) => i.removed && [...m.polls.values()].some((p) => p.item === i.id));
  const chainLine = chain ? h(`p.chain.${chain.ok ? "ok" : "bad"}`, { role: chain.ok ? null : "alert" }, chain.ok ? t("record.chain_ok") : t("record.chain_bad", { n: chain.n })) : null;
  replace(
    $("#record-meta"),
    h("p", h("span.badge.status", { "data-status": m.status }, t(`status.${m.status}`)), " ", t("record.updated", { time: when(m.last_ms || Date.now()) }), " · ", t("record.lines", { n: formatNumber(lines.length) })),
    m.status !== "closed" ? h("p.muted.no-print", t("record.live_note")) : null,
    chainLine,
  );
  replace(main, h("h2#agenda-h", t("record.agenda")), items.length || removed.length ? [...items, ...removed].map((item) => renderItem(m, item)) : h("p.muted", t("record.no_items")));
  const orphanPolls = [...m.polls.values()].filter((p) => !m.items.has(p.item));
  if (orphanPolls.length) main.append(...orphanPolls.map(renderPoll));
  replace(
    $("#downloads-list"),
    h("li", h("a", { href: recordUrl, download: `${forumId}-record.jsonl`, id: "download-jsonl" }, t("record.download_jsonl"))),
    h("li", h("a", { href: `/api/forums/${encodeURIComponent(forumId)}/outcomes.atom`, type: "application/atom+xml", id: "feed-link" }, t("record.feed"))),
  );
}

function checkReceipt(event) {
  event.preventDefault();
  const out = $("#receipt-result");
  const receipt = normalizeReceipt($("#receipt-input").value);
  out.dataset.kind = "";
  if (!receipt) {
    out.dataset.kind = "invalid";
    out.textContent = t("record.receipt_invalid");
    return;
  }
  const found = findReceipt(lines, receipt);
  if (!found) {
    out.dataset.kind = "missing";
    out.textContent = t("record.receipt_missing", { receipt });
    return;
  }
  const poll = model.polls.get(found.poll) || { title: `#${found.poll}`, options: found.opened?.options || [] };
  out.dataset.kind = "found";
  replace(out, h("strong", t("record.receipt_found", { poll: poll.title, ballot: ballotWords(found.entry, (id) => labelOf(poll, id)) })), " ", h("a", { href: `#poll-${found.poll}` }, poll.title));
}

async function load() {
  let res;
  try {
    res = await fetch(recordUrl, { cache: "no-cache" });
  } catch {
    res = null;
  }
  if (res?.status === 404) {
    replace($("#record-body"), h("p.log", { "data-kind": "error", role: "alert" }, t("record.not_found")));
    return false;
  }
  if (!res?.ok) {
    if (!model) replace($("#record-body"), h("p.log", { "data-kind": "error", role: "alert" }, t("record.failed")));
    return true;
  }
  const fresh = await res.text();
  if (fresh !== text) {
    text = fresh;
    lines = parseRecord(text);
    model = build(lines);
    if (model.forum?.language) setForumLanguage(model.forum.language);
    chain = await checkChain(text);
    render();
  }
  return model?.status !== "closed";
}

async function loop() {
  const again = await load();
  if (again) setTimeout(loop, REFRESH_MS);
}

storedTheme();
// Feed readers find the outcomes feed from the page itself.
document.head.append(h("link", { rel: "alternate", type: "application/atom+xml", href: `/api/forums/${encodeURIComponent(forumId)}/outcomes.atom` }));
mountLanguageSwitch($("#lang"));
translate();
onLanguageChange(() => {
  translate();
  render();
});
$("#receipt-form").addEventListener("submit", checkReceipt);
$("#print").addEventListener("click", () => window.print());
loop();
