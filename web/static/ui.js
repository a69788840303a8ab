// Small DOM helpers and the pieces the pages share: the connection badge, the
// agenda, the countdown and the result charts of every poll method.

import { t, formatNumber } from "./i18n.js";
import { formatClock, timerRemaining } from "./client.js";

/** h("tag.class#id", {attrs}, ...children): a tiny element builder (text is always textContent). */
export function h(spec, attrs, ...children) {
  const [, tag, rest] = spec.match(/^([a-z0-9-]+)?(.*)$/i);
  const el = document.createElement(tag || "div");
  for (const part of rest.match(/[.#][^.#]+/g) || []) {
    if (part[0] === ".") el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** Replace a container's children, keeping the focused element's place when it is rebuilt with the same data-key. */
export function replace(container, ...children) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset?.key : null;
  container.replaceChildren(...children.flat(Infinity).filter(Boolean));
  if (key) {
    const again = container.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (again) again.focus({ preventScroll: true });
  }
}

/** Show the connection state in a badge (role=status, so screen readers hear changes). */
export function connectionBadge(el) {
  let timer = null;
  let last = ["connecting"];
  const render = () => {
    const [status, detail] = last;
    el.dataset.status = status;
    clearInterval(timer);
    // What has not reached the server yet, said while it cannot get there.
    const votes = detail?.waiting?.votes || 0;
    const other = detail?.waiting?.other || 0;
    const waiting = status === "online" ? [] : [votes ? t("conn.waiting_votes", { n: votes }) : "", other ? t("conn.waiting_other", { n: other }) : ""].filter(Boolean);
    const show = (text) => {
      el.textContent = [text, ...waiting].join(" · ");
    };
    if (status === "offline" && detail?.retryInMs) {
      const until = Date.now() + detail.retryInMs;
      const tick = () => show(t("conn.offline", { secs: Math.max(0, Math.ceil((until - Date.now()) / 1000)) }));
      tick();
      timer = setInterval(tick, 1000);
    } else if (status === "offline") {
      show(t(detail?.browserOffline ? "conn.no_network" : "conn.stalled"));
    } else {
      show(t(`conn.${status}`));
    }
  };
  return {
    set(status, detail) {
      last = [status, detail];
      render();
    },
    render,
  };
}

/** The agenda as an ordered list; the current item is marked with aria-current. Once the forum has closed, no item is current. */
export function renderAgenda(state, { compact = false } = {}) {
  if (!state.agenda.length) return h("p.muted", t("agenda.empty"));
  const ended = state.forum?.status === "closed";
  const stateOf = (item) => (ended && item.state === "active" ? "done" : item.state);
  return h(
    "ol.agenda",
    state.agenda.map((item) =>
      h(
        `li.agenda-item.state-${stateOf(item)}`,
        { "aria-current": stateOf(item) === "active" ? "step" : null },
        h("span.agenda-title", item.title),
        " ",
        h("span.agenda-state", t(stateOf(item) === "active" ? "agenda.current" : `agenda.${stateOf(item)}`)),
        !compact && item.description ? h("p.agenda-desc", item.description) : null,
      ),
    ),
  );
}

/** Time left as m:ss, or how far over once a deadline has passed ("+0:15 over"): an overrun is never shown as 0:00. */
export function clockText(msLeft) {
  if (msLeft === null || msLeft === undefined) return "";
  if (msLeft < 0) return t("timer.over", { time: formatClock(Math.floor(-msLeft / 1000) * 1000) });
  return formatClock(msLeft);
}

/** Keep every [data-countdown=item id] element ticking from the item's deadline. */
export function startCountdowns(client, root = document) {
  const tick = () => {
    for (const el of root.querySelectorAll("[data-countdown]")) {
      const item = client.state.item(Number(el.dataset.countdown));
      const running = !!item?.timer?.running;
      const over = running && typeof item.timer.deadline_ms === "number" ? item.timer.deadline_ms - client.serverNow() : null;
      const ms = timerRemaining(item, client.serverNow());
      const text = ms === null ? "" : clockText(over !== null && over < 0 ? over : ms);
      if (el.textContent !== text) el.textContent = text;
      el.classList.toggle("paused", !!item?.timer && !running);
      el.classList.toggle("low", running && ms !== null && ms <= 60000);
      el.classList.toggle("up", !!item?.timer && ms === 0);
    }
  };
  tick();
  return setInterval(tick, 250);
}

export function timerBlock(item) {
  if (!item || (!item.timer && !item.timebox_secs)) return null;
  const paused = item.timer && !item.timer.running;
  return h(
    "div.timer",
    h("span.timer-label", t("timer.label")),
    " ",
    // role=timer is not announced every second (aria-live off by default).
    h("span.timer-value", { role: "timer", "data-countdown": item.id }),
    paused ? h("span.timer-paused", ` (${t("timer.paused")})`) : null,
  );
}

/** Options of a poll that count (merged ones count for their target). */
export function liveOptions(poll) {
  return poll.options.filter((o) => !o.merged_into);
}

function labelOf(poll, optionId) {
  return poll.options.find((o) => o.id === optionId)?.label ?? `#${optionId}`;
}

function bar(label, value, max, text, extra = {}) {
  const pct = max > 0 ? Math.max(0, Math.min(100, (value / max) * 100)) : 0;
  const fill = h("span.bar-fill", { "aria-hidden": "true" });
  fill.style.width = `${pct}%`;
  return h(
    "li.bar-row" + (extra.className ? "." + extra.className : ""),
    extra.attrs || {},
    extra.position ? h("span.bar-pos", extra.position) : null,
    h("span.bar-label", label),
    h("span.bar-track", fill),
    h("span.bar-value", text),
  );
}

/** Position numbers of tiers (ties share a position). */
function positions(ranking) {
  const pos = new Map();
  let next = 1;
  for (const tier of ranking || []) {
    for (const id of tier) pos.set(id, { n: next, tied: tier.length > 1 });
    next += tier.length;
  }
  return pos;
}

function orderByRanking(poll, ranking) {
  const order = [];
  for (const tier of ranking || []) for (const id of tier) order.push(id);
  for (const o of liveOptions(poll)) if (!order.includes(o.id)) order.push(o.id);
  return order.filter((id) => !poll.options.find((o) => o.id === id)?.merged_into);
}

/** A chart for a tally, fit for its method. */
export function renderTally(poll, tally) {
  if (!tally) return h("p.muted", t("results.none"));
  const r = tally.result;
  const bc = tally.by_channel;
  const paper = bc?.hall_count?.ballots || 0;
  const split = bc
    ? t(paper ? "results.by_channel_paper" : "results.by_channel", {
        hall: formatNumber((bc.hall?.ballots || 0) + paper),
        paper: formatNumber(paper),
        remote: formatNumber(bc.remote?.ballots || 0),
      })
    : "";
  // Nothing counted yet: every option shares the first tier and a yes/no is 0 = 0, which is no tie and no verdict.
  const none = !!tally.no_votes || tally.ballots === 0;
  const head = h(
    "p.tally-ballots",
    t("results.votes", { n: formatNumber(tally.ballots) }),
    split ? [" (", h("span.tally-split", split), ")"] : "",
    none ? [" · ", h("strong.no-votes", t("results.no_votes"))] : "",
  );
  if (r.method === "yes_no") {
    const total = r.yes + r.no + r.abstain;
    const verdict = r.tie ? t("yes_no.tie") : r.passed ? t("yes_no.passed") : t("yes_no.failed");
    return h(
      "div.tally.tally-yes_no",
      head,
      h(
        "ul.bars",
        bar(t("yes_no.yes"), r.yes, total, formatNumber(r.yes), { className: "yes" }),
        bar(t("yes_no.no"), r.no, total, formatNumber(r.no), { className: "no" }),
        bar(t("yes_no.abstain"), r.abstain, total, formatNumber(r.abstain), { className: "abstain" }),
      ),
      none ? null : h(`p.verdict.${r.tie ? "tie" : r.passed ? "passed" : "failed"}`, `${verdict} (${t(`rule.${r.rule}`)})`),
    );
  }
  const pos = none ? new Map() : positions(r.ranking);
  const order = orderByRanking(poll, r.ranking);
  const rowFor = (id, value, max, text, sub) => {
    const p = pos.get(id);
    const position = p ? t("ranked.position", { n: p.n }) + (p.tied ? ` (${t("results.tied")})` : "") : "";
    const row = bar(labelOf(poll, id), value, max, text, {
      position,
      className: p?.n === 1 && !none ? "leader" : "",
      attrs: { "data-option": id },
    });
    if (sub) row.append(h("span.bar-sub", sub));
    return row;
  };
  if (r.method === "approval" || r.method === "dots" || r.method === "single_choice") {
    const counts = new Map(r.counts.map((c) => [c.option, c.count]));
    const max = Math.max(1, ...counts.values());
    return h("div.tally.tally-" + r.method, head, h("ol.bars", order.map((id) => rowFor(id, counts.get(id) || 0, max, formatNumber(counts.get(id) || 0)))));
  }
  if (r.method === "score") {
    const stats = new Map(r.stats.map((s) => [s.option, s]));
    return h(
      "div.tally.tally-score",
      head,
      h(
        "ol.bars",
        order.map((id) => {
          const s = stats.get(id) || { mean: 0, ballots: 0 };
          return rowFor(id, s.mean, 5, formatNumber(s.mean, 1), t("results.votes", { n: formatNumber(s.ballots) }));
        }),
      ),
    );
  }
  if (r.method === "pairwise") {
    // Bradley–Terry strengths (SPEC §9.5): the bar is the log-strength above the weakest option's.
    const stats = new Map(r.stats.map((x) => [x.option, x]));
    const logs = r.stats.map((x) => x.log_strength);
    const low = Math.min(0, ...logs);
    const top = Math.max(1e-9, ...logs.map((v) => v - low));
    return h(
      "div.tally.tally-pairwise",
      head,
      h("p.decided-by", t("pairwise.comparisons", { n: formatNumber(r.comparisons) })),
      h(
        "ol.bars",
        order.map((id) => {
          const x = stats.get(id) || { wins: 0, losses: 0, strength: 1, log_strength: 0 };
          return rowFor(id, x.log_strength - low, top, t("pairwise.strength", { s: formatNumber(x.strength, 2) }), t("pairwise.record", { wins: formatNumber(x.wins), losses: formatNumber(x.losses) }));
        }),
      ),
    );
  }
  if (r.method === "ranked") {
    const borda = new Map(r.borda.map((c) => [c.option, c.count]));
    const firsts = new Map(r.first_choices.map((c) => [c.option, c.count]));
    const max = Math.max(1, ...borda.values());
    const channelPoints = (name) => new Map((bc?.[name]?.result?.borda || []).map((c) => [c.option, c.count]));
    const hallPts = channelPoints("hall");
    const paperPts = channelPoints("hall_count");
    const remotePts = channelPoints("remote");
    const decisive = r.tally || "borda";
    const runoff = decisive === "instant_runoff" && tally.ranked && !none ? tally.ranked.instant_runoff : null;
    const sub = (id) => {
      const parts = [t("ranked.first", { n: formatNumber(firsts.get(id) || 0) })];
      if (bc) parts.push(t("ranked.split", { hall: formatNumber((hallPts.get(id) || 0) + (paperPts.get(id) || 0)), remote: formatNumber(remotePts.get(id) || 0) }));
      return parts.join(" · ");
    };
    const schulze = decisive === "schulze" ? tally.ranked?.schulze : null;
    if (schulze && tally.ranked.options) {
      // Schulze by its own measure: how many options each one beats by its strongest path (never Borda points).
      const ids = tally.ranked.options;
      const beats = new Map(ids.map((id, i) => [id, ids.reduce((n, _, j) => n + (schulze.strongest[i][j] > schulze.strongest[j][i] ? 1 : 0), 0)]));
      const firstSplit = (name) => new Map((bc?.[name]?.result?.first_choices || []).map((c) => [c.option, c.count]));
      const [hallFirst, paperFirst, remoteFirst] = ["hall", "hall_count", "remote"].map(firstSplit);
      return h(
        "div.tally.tally-ranked",
        { "data-tally": decisive },
        head,
        h("p.decided-by", t("ranked.decided_by", { method: t(`ranked_tally.${decisive}`) })),
        h("p.hint", t("schulze.how")),
        h(
          "ol.bars.standings",
          order.map((id) => {
            const n = beats.get(id) || 0;
            const sub = bc
              ? t("irv.first_split", { hall: formatNumber((hallFirst.get(id) || 0) + (paperFirst.get(id) || 0)), remote: formatNumber(remoteFirst.get(id) || 0) })
              : t("ranked.first", { n: formatNumber(firsts.get(id) || 0) });
            return rowFor(id, n, Math.max(1, ids.length - 1), t("schulze.beats", { n: formatNumber(n) }), sub);
          }),
        ),
        none ? null : renderMethodWinners(poll, decisive, tally.ranked),
      );
    }
    if (runoff) {
      // Instant-runoff standings: each option's votes in the last round it took part in (the winners': the final round).
      const last = new Map();
      runoff.rounds.forEach((round, i) => round.counts.forEach((c) => last.set(c.option, { count: c.count, round: i + 1 })));
      const top = Math.max(1, ...[...last.values()].map((v) => v.count));
      const firstSplit = (name) => new Map((bc?.[name]?.result?.first_choices || []).map((c) => [c.option, c.count]));
      const [hallFirst, paperFirst, remoteFirst] = ["hall", "hall_count", "remote"].map(firstSplit);
      return h(
        "div.tally.tally-ranked",
        { "data-tally": decisive },
        head,
        h("p.decided-by", t("ranked.decided_by", { method: t(`ranked_tally.${decisive}`) })),
        h(
          "ol.bars.standings",
          order.map((id) => {
            const v = last.get(id) || { count: 0, round: 1 };
            const parts = [t("irv.in_round", { n: v.round }), t("ranked.points", { n: formatNumber(borda.get(id) || 0) }) + " (" + t("ranked_tally.borda") + ")"];
            if (bc) parts.push(t("irv.first_split", { hall: formatNumber((hallFirst.get(id) || 0) + (paperFirst.get(id) || 0)), remote: formatNumber(remoteFirst.get(id) || 0) }));
            return rowFor(id, v.count, top, t("results.votes", { n: formatNumber(v.count) }), parts.join(" · "));
          }),
        ),
        renderRunoff(poll, runoff, r.ranking),
        renderMethodWinners(poll, decisive, tally.ranked),
      );
    }
    return h(
      "div.tally.tally-ranked",
      { "data-tally": decisive },
      head,
      h("p.decided-by", t("ranked.decided_by", { method: t(`ranked_tally.${decisive}`) })),
      h(
        "ol.bars.standings",
        order.map((id) => rowFor(id, borda.get(id) || 0, max, t("ranked.points", { n: formatNumber(borda.get(id) || 0) }), sub(id))),
      ),
      runoff ? renderRunoff(poll, runoff, r.ranking) : null,
      tally.ranked && !none ? renderMethodWinners(poll, decisive, tally.ranked) : null,
    );
  }
  return h("p.muted", t("results.none"));
}

/** Instant-runoff round by round: a table of options (rows) by rounds (columns). */
export function renderRunoff(poll, irv, ranking) {
  const rounds = irv.rounds || [];
  if (!rounds.length) return null;
  const order = orderByRanking(poll, ranking);
  const winners = new Set(irv.winners || []);
  const showExhausted = rounds.some((round) => round.exhausted > 0) || !!poll.method?.max_ranks;
  const cell = (id, round) => {
    const count = round.counts.find((c) => c.option === id);
    if (!count) return h("td.gone", h("span", { "aria-hidden": "true" }, t("irv.gone")), h("span.visually-hidden", t("irv.gone_label")));
    const out = round.eliminated.includes(id);
    return h(
      `td${out ? ".out" : ""}${out && round.simultaneous ? ".together" : ""}`,
      h("span.irv-count", formatNumber(count.count)),
      out ? h("span.irv-mark", ` ✕ ${t(round.simultaneous ? "irv.out_together" : "irv.out")}`) : null,
    );
  };
  const notes = rounds
    .map((round, i) => (round.simultaneous && round.eliminated.length > 1 ? t("irv.together_note", { n: i + 1, labels: round.eliminated.map((id) => labelOf(poll, id)).join(", ") }) : null))
    .filter(Boolean);
  return h(
    "div.runoff",
    h(
      "table.runoff-table",
      h("caption", t("irv.caption")),
      h("thead", h("tr", h("th", { scope: "col" }, t("irv.option")), rounds.map((_, i) => h("th", { scope: "col" }, t("irv.round", { n: i + 1 }))))),
      h(
        "tbody",
        order.map((id) => h(`tr${winners.has(id) ? ".winner" : ""}`, { "data-option": id }, h("th", { scope: "row" }, labelOf(poll, id)), rounds.map((round) => cell(id, round)))),
        showExhausted ? h("tr.exhausted", h("th", { scope: "row" }, t("irv.exhausted")), rounds.map((round) => h("td", formatNumber(round.exhausted)))) : null,
      ),
    ),
    notes.length ? h("ul.runoff-notes", notes.map((n) => h("li", n))) : null,
  );
}

/** "Winner by method" for a ranked tally, with a notice when the methods disagree. */
export function renderMethodWinners(poll, decisive, ranked) {
  const names = (ids) => (ids?.length ? ids.map((id) => labelOf(poll, id)).join(" = ") : "—");
  const methods = ["borda", "instant_runoff", "schulze"];
  return h(
    "div.methods",
    { "data-disagree": String(!!ranked.methods_disagree) },
    h(
      "p.methods-line",
      h("span.methods-title", `${t("methods.title")}: `),
      methods.map((m, i) => [
        i ? " · " : "",
        h(
          `span.method-winner${m === decisive ? ".decisive" : ""}`,
          { "data-method": m },
          `${t(`ranked_tally.${m}`)}${m === decisive ? ` (${t("methods.decides")})` : ""}: `,
          h("strong", names(ranked.winners?.[m])),
        ),
      ]),
    ),
    ranked.methods_disagree
      ? h("p.methods-disagree", h("span", { "aria-hidden": "true" }, "⚠ "), t("methods.disagree", { method: t(`ranked_tally.${decisive}`) }))
      : h("p.methods-agree", t("methods.agree")),
  );
}

/** One sentence for screen readers: ballots and who leads. */
export function tallySummary(poll, tally) {
  if (!tally) return "";
  const r = tally.result;
  let leader;
  if (tally.no_votes || tally.ballots === 0) leader = t("results.no_votes");
  else if (r.method === "yes_no") leader = `${t("yes_no.yes")} ${r.yes}, ${t("yes_no.no")} ${r.no}, ${t("yes_no.abstain")} ${r.abstain}`;
  else leader = (r.ranking?.[0] || []).map((id) => labelOf(poll, id)).join(", ") || "—";
  return t("results.summary", { poll: poll.title, n: tally.ballots, label: leader });
}

/**
 * A polite live region that announces at most every few seconds, so that a
 * tally changing ten times a second does not drown a screen reader.
 */
export function politeAnnouncer(el, minGapMs = 4000) {
  let last = 0;
  let queued = null;
  let timer = null;
  return (text) => {
    queued = text;
    const now = Date.now();
    const wait = Math.max(0, last + minGapMs - now);
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (queued && el.textContent !== queued) el.textContent = queued;
      last = Date.now();
    }, wait);
  };
}

export function methodLabel(method) {
  return t(`method.${method.kind}`);
}

export function storedTheme(el = document.documentElement) {
  try {
    const theme = localStorage.getItem("madang.theme");
    if (theme === "dark" || theme === "light") el.dataset.theme = theme;
  } catch {}
}

export function toggleTheme(el = document.documentElement) {
  const dark = el.dataset.theme ? el.dataset.theme === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
  el.dataset.theme = dark ? "light" : "dark";
  try {
    localStorage.setItem("madang.theme", el.dataset.theme);
  } catch {}
}

export function speakerName(speaker) {
  if (!speaker) return "";
  if (speaker.name) return speaker.name;
  if (speaker.participant) return t("hand.person", { id: speaker.participant });
  return t("hand.hall_person");
}

/** The temperature check of the current item as three bars, or null. */
export function renderTemperature(state) {
  const temp = state.temperature;
  if (!temp || temp.item !== state.activeItem) return null;
  const c = temp.total;
  const total = c.green + c.yellow + c.red;
  return h(
    "div.temperature",
    h(
      "ul.bars",
      ["green", "yellow", "red"].map((color) => {
        const fill = h("span.bar-fill", { "aria-hidden": "true" });
        fill.style.width = `${total ? (c[color] / total) * 100 : 0}%`;
        return h(`li.bar-row.temp-${color}`, h("span.bar-label", t(`temp.${color}`)), h("span.bar-track", fill), h("span.bar-value", formatNumber(c[color])));
      }),
    ),
  );
}
