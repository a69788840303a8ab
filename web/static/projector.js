// What the projector shows and how a result is laid out for a hall.
//
// The moderator chooses the screen (`show_on_display`, SPEC §7.3 Display);
// `auto` is resolved here from the current item only, so a display never
// keeps showing an earlier item's results. Results are drawn by each
// method's own measure (instant-runoff by rounds, Schulze by pairwise wins,
// pairwise by how often an option was preferred), never by Borda points
// unless Borda decides, and every split between the hall and online is
// labelled. `fit` then sizes the text (and, if needed, the columns) so that
// nothing a hall should read is ever cut off.

import { t, formatNumber } from "./i18n.js";
import "./i18n-record.js";
import { h, renderMethodWinners } from "./ui.js";

/**
 * The screen to draw: `{kind: "end"}` once the forum is closed; otherwise
 * the moderator's choice with `auto` resolved to `polls` (the current item's
 * open polls), `result` (its latest public closed poll), `ideas` or, without
 * a current item, `join`. A choice naming a poll this display does not know
 * falls back to `auto`.
 */
export function resolveScreen(state) {
  if (state.forum?.status === "closed") return { kind: "end" };
  const chosen = state.screen || { kind: "auto" };
  if (chosen.kind === "poll" || chosen.kind === "result") {
    const poll = state.polls.get(chosen.poll);
    if (poll) return { kind: chosen.kind === "poll" && poll.status === "open" ? "polls" : "result", polls: [poll], step: chosen.step };
  } else if (["ideas", "speakers", "join", "blank"].includes(chosen.kind)) {
    return { kind: chosen.kind };
  }
  if (state.activeItem == null) return { kind: "join" };
  const mine = [...state.polls.values()].filter((p) => p.item === state.activeItem).sort((a, b) => a.id - b.id);
  const open = mine.filter((p) => p.status === "open");
  if (open.length) return { kind: "polls", polls: open };
  const closed = mine.filter((p) => p.status === "closed" && p.results_visible && p.outcome);
  if (closed.length) return { kind: "result", polls: [closed[closed.length - 1]] };
  return { kind: "ideas" };
}

function labelOf(poll, id) {
  return poll.options.find((o) => o.id === id)?.label ?? `#${id}`;
}

function liveOptionIds(poll) {
  return poll.options.filter((o) => !o.merged_into).map((o) => o.id);
}

/** Options in ranking order (tiers flattened), then any not ranked. */
function ordered(poll, ranking) {
  const live = new Set(liveOptionIds(poll));
  const order = [];
  for (const tier of ranking || []) for (const id of tier) if (live.has(id) && !order.includes(id)) order.push(id);
  for (const id of live) if (!order.includes(id)) order.push(id);
  return order;
}

/** Place numbers by tier; ties share one. Empty when nothing was counted. */
function places(ranking, counted) {
  const out = new Map();
  if (!counted) return out;
  let next = 1;
  for (const tier of ranking || []) {
    for (const id of tier) out.set(id, { n: next, tied: tier.length > 1 });
    next += tier.length;
  }
  return out;
}

/** The ranked methods' detail, when the tally has one. */
function rankedDetail(tally) {
  return tally?.ranked || null;
}

/** Per-channel numbers of one option, labelled "hall · online": the hall includes hand counts. */
function splitText(bc, valueOf) {
  if (!bc) return "";
  const hall = (valueOf(bc.hall) || 0) + (valueOf(bc.hall_count) || 0);
  const remote = valueOf(bc.remote) || 0;
  return t("projector.split", { hall: formatNumber(hall), remote: formatNumber(remote) });
}

function countIn(channel, field, id) {
  return channel?.result?.[field]?.find((c) => c.option === id)?.count || 0;
}

/** The verdict of a tally in words, or "" while nothing decides it. */
export function verdictText(poll, tally) {
  if (!tally || !tally.ballots) return t("projector.no_votes");
  const r = tally.result;
  if (r.method === "yes_no") {
    const numbers = t("projector.yes_no_numbers", { yes: formatNumber(r.yes), no: formatNumber(r.no), abstain: formatNumber(r.abstain) });
    const verdict = r.passed ? t("yes_no.passed") : r.tie ? t("projector.tie_not_carried") : t("yes_no.failed");
    return `${verdict} (${t(`rule.${r.rule}`)}): ${numbers}`;
  }
  const winners = r.method === "ranked" && r.tally === "instant_runoff" && tally.ranked ? tally.ranked.instant_runoff.winners : r.ranking?.[0] || [];
  if (!winners.length) return t("projector.no_votes");
  const names = winners.map((id) => labelOf(poll, id));
  return winners.length === 1 ? t("projector.decided", { label: names[0] }) : t("projector.tie", { labels: names.join(" · ") });
}

/** Widths drawn last, per poll and option, so that the next drawing animates from them. */
const drawn = new Map();

function row({ poll, id, label, place, value, fraction, sub, className = "" }) {
  const key = `${poll.id}:${id}`;
  const fill = h("span.pj-fill", { "aria-hidden": "true" });
  const target = `${Math.max(0, Math.min(1, fraction || 0)) * 100}%`;
  fill.style.width = drawn.get(key) ?? "0%";
  drawn.set(key, target);
  requestAnimationFrame(() => requestAnimationFrame(() => (fill.style.width = target)));
  return h(
    `li.pj-row${className ? "." + className : ""}`,
    { "data-option": id },
    h("span.pj-place.bar-pos", place ? t("ranked.position", { n: place.n }) + (place.tied ? ` (${t("results.tied")})` : "") : ""),
    h("span.pj-label.bar-label", label),
    h("span.pj-value.bar-value", value),
    h("span.pj-track", fill),
    sub ? h("span.pj-sub.bar-sub", sub) : null,
  );
}

function rowsFor(poll, tally, step) {
  const r = tally.result;
  const counted = tally.ballots > 0;
  // With nothing counted, a split per option says nothing.
  const bc = counted ? tally.by_channel : null;
  if (r.method === "yes_no") {
    const total = Math.max(1, r.yes + r.no + r.abstain);
    return ["yes", "no", "abstain"].map((choice) =>
      row({
        poll,
        id: choice,
        label: t(`yes_no.${choice}`),
        value: formatNumber(r[choice]),
        fraction: r[choice] / total,
        sub: splitText(bc, (c) => c?.result?.[choice]),
        className: `choice-${choice}`,
      }),
    );
  }
  const place = places(r.ranking, counted);
  const leader = (id) => (counted && place.get(id)?.n === 1 ? "leader" : "");
  if (r.method === "approval" || r.method === "dots" || r.method === "single_choice") {
    const counts = new Map(r.counts.map((c) => [c.option, c.count]));
    const max = Math.max(1, ...counts.values());
    return ordered(poll, r.ranking).map((id) =>
      row({ poll, id, label: labelOf(poll, id), place: place.get(id), value: formatNumber(counts.get(id) || 0), fraction: (counts.get(id) || 0) / max, sub: splitText(bc, (c) => countIn(c, "counts", id)), className: leader(id) }),
    );
  }
  if (r.method === "score") {
    const stats = new Map(r.stats.map((s) => [s.option, s]));
    const mean = (channels, id) => {
      let sum = 0;
      let n = 0;
      for (const c of channels) {
        const s = c?.result?.stats?.find((x) => x.option === id);
        if (s) (sum += s.sum), (n += s.ballots);
      }
      return n ? formatNumber(sum / n, 1) : "—";
    };
    return ordered(poll, r.ranking).map((id) => {
      const s = stats.get(id) || { mean: 0, ballots: 0 };
      const sub = bc ? t("projector.split_mean", { hall: mean([bc.hall, bc.hall_count], id), remote: mean([bc.remote], id) }) : "";
      return row({ poll, id, label: labelOf(poll, id), place: place.get(id), value: t("projector.mean", { mean: formatNumber(s.mean, 1) }), fraction: s.mean / 5, sub, className: leader(id) });
    });
  }
  if (r.method === "pairwise") {
    // Drawn by the fitted strength, the measure that orders the list (scaled so the strongest is 100),
    // so that bars and numbers never disagree with the order; raw wins are the line below.
    const stats = new Map(r.stats.map((s) => [s.option, s]));
    const strongest = Math.max(0, ...r.stats.map((s) => s.strength || 0));
    return ordered(poll, r.ranking).map((id) => {
      const s = stats.get(id) || { wins: 0, losses: 0, strength: 0 };
      const n = s.wins + s.losses;
      const relative = counted && strongest > 0 ? (s.strength || 0) / strongest : 0;
      const winsIn = (c) => c?.result?.stats?.find((x) => x.option === id)?.wins || 0;
      const sub = [t("projector.pairwise_wins", { wins: formatNumber(s.wins), n: formatNumber(n) }), bc ? splitText(bc, winsIn) : ""].filter(Boolean).join(" · ");
      return row({ poll, id, label: labelOf(poll, id), place: place.get(id), value: counted && n ? t("projector.pairwise_strength", { n: formatNumber(Math.round(100 * relative)) }) : "—", fraction: relative, sub, className: leader(id) });
    });
  }
  if (r.method === "ranked") {
    const detail = rankedDetail(tally);
    if (r.tally === "instant_runoff" && detail) return runoffRows(poll, tally, step);
    if (r.tally === "schulze" && detail) {
      const ids = detail.options;
      const others = Math.max(1, ids.length - 1);
      const schulzePlace = places(detail.schulze.ranking, counted);
      return ordered(poll, detail.schulze.ranking).map((id) => {
        const i = ids.indexOf(id);
        const wins = i < 0 ? 0 : ids.filter((_, j) => j !== i && detail.schulze.pairwise[i][j] > detail.schulze.pairwise[j][i]).length;
        const sub = splitText(bc, (c) => countIn(c, "first_choices", id));
        return row({
          poll,
          id,
          label: labelOf(poll, id),
          place: schulzePlace.get(id),
          value: t("projector.beats", { wins: formatNumber(wins), n: formatNumber(others) }),
          fraction: wins / others,
          sub: sub ? `${t("projector.first_choices")} ${sub}` : "",
          className: counted && schulzePlace.get(id)?.n === 1 ? "leader" : "",
        });
      });
    }
    const borda = new Map(r.borda.map((c) => [c.option, c.count]));
    const firsts = new Map(r.first_choices.map((c) => [c.option, c.count]));
    const max = Math.max(1, ...borda.values());
    const sub = (id) => {
      const parts = [t("ranked.first", { n: formatNumber(firsts.get(id) || 0) })];
      if (bc) parts.push(t("ranked.split", { hall: formatNumber(countIn(bc.hall, "borda", id) + countIn(bc.hall_count, "borda", id)), remote: formatNumber(countIn(bc.remote, "borda", id)) }));
      return parts.join(" · ");
    };
    return ordered(poll, r.ranking).map((id) =>
      row({ poll, id, label: labelOf(poll, id), place: place.get(id), value: t("ranked.points", { n: formatNumber(borda.get(id) || 0) }), fraction: (borda.get(id) || 0) / max, sub: sub(id), className: leader(id) }),
    );
  }
  return [];
}

/** Instant-runoff up to round `step` (all rounds when absent), in final order so rows keep their places. */
function runoffRows(poll, tally, step) {
  const irv = tally.ranked.instant_runoff;
  const rounds = irv.rounds || [];
  const shown = step == null ? rounds.length : Math.min(step, rounds.length);
  const round = shown > 0 ? rounds[shown - 1] : null;
  const outIn = new Map();
  rounds.slice(0, Math.max(0, shown - 1)).forEach((r, i) => r.eliminated.forEach((id) => outIn.set(id, i + 1)));
  const counts = new Map((round?.counts || []).map((c) => [c.option, c.count]));
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  // Winners are named once the poll is closed and its last round is on screen.
  const last = shown === rounds.length && shown > 0;
  const winners = new Set(last ? irv.winners : []);
  const final = last && poll.status === "closed";
  return ordered(poll, tally.result.ranking).map((id) => {
    const gone = outIn.get(id);
    const out = round?.eliminated.includes(id);
    const count = counts.get(id) || 0;
    const status = gone ? t("projector.irv_out_in", { n: gone }) : out ? t("projector.irv_out_now") : final && winners.has(id) ? t("projector.irv_winner") : "";
    return row({
      poll,
      id,
      label: labelOf(poll, id),
      value: !round || gone ? "—" : formatNumber(count),
      fraction: !round || gone ? 0 : count / Math.max(1, total),
      sub: status,
      className: gone ? "gone" : out ? "out" : winners.has(id) ? "leader" : "",
    });
  });
}

/** The heading line of a result: ballots, with the hall and online split labelled. */
function metaText(tally) {
  const bc = tally?.by_channel;
  const n = t("results.votes", { n: formatNumber(tally?.ballots || 0) });
  if (!bc) return n;
  const paper = bc.hall_count?.ballots || 0;
  const hall = (bc.hall?.ballots || 0) + paper;
  const split = paper
    ? t("results.by_channel_paper", { hall: formatNumber(hall), paper: formatNumber(paper), remote: formatNumber(bc.remote?.ballots || 0) })
    : t("results.by_channel", { hall: formatNumber(hall), remote: formatNumber(bc.remote?.ballots || 0) });
  return `${n} (${split})`;
}

function measureText(poll, tally) {
  const r = tally?.result;
  if (!r) return "";
  if (r.method === "ranked") {
    const by = t(`ranked_tally.${r.tally || "borda"}`);
    const what = r.tally === "schulze" ? t("projector.measure_schulze") : r.tally === "instant_runoff" ? t("projector.measure_irv") : t("projector.measure_borda");
    return `${by}: ${what}`;
  }
  if (r.method === "pairwise") return t("projector.measure_pairwise");
  if (r.method === "score") return t("projector.measure_score");
  return "";
}

/** The outcome's record fingerprint, to be written down in the hall and found later in the public record (RECORD.md §2). */
export function fingerprintLine(fingerprint) {
  return h("p.pj-fingerprint", { "data-fingerprint": fingerprint }, h("span.pj-caption", t("projector.fingerprint")), " ", h("strong.pj-fp", fingerprint));
}

/**
 * One poll's results for the projector: title, FINAL and the verdict in
 * words once closed, ballots with the hall and online split, one row per
 * option. `step` limits an instant-runoff result to its first rounds.
 */
export function renderPollResult(poll, tally, { step, titleId } = {}) {
  const final = poll.status === "closed";
  const irv = tally?.ranked?.instant_runoff;
  const rounds = irv?.rounds?.length || 0;
  const isRunoff = tally?.result?.method === "ranked" && tally.result.tally === "instant_runoff" && irv;
  const shown = isRunoff ? (step == null ? rounds : Math.min(step, rounds)) : null;
  const complete = !isRunoff || shown === rounds;
  const head = h(
    "div.pj-result-head",
    h("h2.pj-title", { id: titleId }, final ? h("span.pj-final", t("projector.final")) : h("span.pj-live", t("projector.live")), " ", poll.title),
    h("p.pj-meta.tally-ballots", metaText(tally)),
    poll.ballots === "named" ? h("p.pj-meta.pj-named", t("named.wall")) : null,
    measureText(poll, tally) ? h("p.pj-meta", measureText(poll, tally)) : null,
    isRunoff && rounds ? h("p.pj-round", { "data-step": shown }, shown ? t("projector.irv_round", { n: shown, of: rounds }) : t("projector.irv_start", { of: rounds })) : null,
    final && complete && poll.results_visible && tally ? h("p.pj-verdict", { "data-final": "true" }, verdictText(poll, tally)) : null,
    final && complete && poll.outcome?.record ? fingerprintLine(poll.outcome.record.fingerprint) : null,
  );
  if (!poll.results_visible) return h("section.pj-result", { "data-poll": poll.id }, head, h("p.pj-note", t("poll.results_hidden")));
  if (!tally) return h("section.pj-result", { "data-poll": poll.id }, head, h("p.pj-note", t("projector.no_votes")));
  return h(
    "section.pj-result",
    { "data-poll": poll.id, "data-method": tally.result.method, "data-final": String(final) },
    head,
    h("ol.pj-rows.standings", { "aria-label": poll.title }, rowsFor(poll, tally, shown)),
    tally.ranked && tally.ballots > 0 && complete ? renderMethodWinners(poll, tally.result.tally || "borda", tally.ranked) : null,
  );
}

/**
 * Size `box`'s text so that its content fits it: for each column count of
 * its lists (`.pj-rows`, `.pj-wall`), the largest font size from `max` down
 * to `min` pixels that fits; more columns win only with type at least 30%
 * larger (a list reads best in one column). Returns whether it fits.
 */
export function fit(box, { max, min, maxColumns = 3 }) {
  const lists = [...box.querySelectorAll(".pj-rows, .pj-wall")];
  const fits = () => box.scrollHeight <= box.clientHeight + 1 && box.scrollWidth <= box.clientWidth + 1;
  const setColumns = (cols) => {
    for (const list of lists) {
      // Items of other pages (hidden) take no place.
      const n = [...list.children].filter((li) => !li.hidden).length;
      const used = Math.min(cols, Math.max(1, n));
      list.style.setProperty("--cols", String(used));
      list.style.gridTemplateRows = used > 1 ? `repeat(${Math.ceil(n / used)}, auto)` : "";
      list.dataset.columns = String(used);
    }
  };
  const largest = () => {
    box.style.fontSize = `${min}px`;
    if (!fits()) return null;
    let lo = min;
    let hi = max;
    while (hi - lo > 0.5) {
      const mid = (lo + hi) / 2;
      box.style.fontSize = `${mid}px`;
      if (fits()) lo = mid;
      else hi = mid;
    }
    return lo;
  };
  let best = null;
  const most = lists.length ? Math.min(maxColumns, Math.max(...lists.map((l) => [...l.children].filter((li) => !li.hidden).length))) : 1;
  for (let cols = 1; cols <= most; cols++) {
    setColumns(cols);
    const size = largest();
    if (size !== null && (!best || size > best.size * 1.3)) best = { cols, size };
  }
  setColumns(best ? best.cols : most);
  box.style.fontSize = `${best ? best.size : min}px`;
  return !!best;
}

/**
 * Like `fit`, but never below `min` pixels (a size a hall can read): when
 * the whole list does not fit at `min`, it is split into pages of as many
 * items as fit (in up to `maxColumns` columns), page `page` is shown with a
 * "1/3" indicator, and the leading options (at most three) stay on every
 * page, so the winner is always in view. A single item too large for a page
 * is shrunk down to `floor` instead. Returns the number of pages (1 when it
 * all fits).
 */
export function fitPaged(box, { max, min, floor, maxColumns = 3, page = 0 }) {
  box.querySelector(":scope .pj-page")?.remove();
  const list = box.querySelector(".pj-rows, .pj-wall");
  for (const li of list ? list.children : []) li.hidden = false;
  if (fit(box, { max, min, maxColumns }) || !list) {
    if (!list) fit(box, { max, min: floor, maxColumns });
    return 1;
  }
  const items = [...list.children];
  const leaders = items.filter((li) => li.classList.contains("leader"));
  const pinned = leaders.length <= 3 ? leaders : [];
  const rest = items.filter((li) => !pinned.includes(li));
  const marker = h("p.pj-page", { "aria-hidden": "true" });
  list.before(marker);
  const show = (per, k) => {
    const count = Math.ceil(rest.length / per);
    rest.forEach((li, i) => (li.hidden = Math.floor(i / per) !== k));
    marker.textContent = `${k + 1}/${count}`;
    return count;
  };
  const allFit = (per) => {
    const count = Math.ceil(rest.length / per);
    for (let k = 0; k < count; k++) {
      show(per, k);
      if (!fit(box, { max: min, min, maxColumns })) return false;
    }
    return true;
  };
  // The most items a page holds with every page fitting at `min`.
  let lo = 0;
  let hi = rest.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (allFit(mid)) lo = mid;
    else hi = mid - 1;
  }
  // As many pages as needed, evenly filled; one type size on every page (the largest the fullest page allows).
  const count = Math.ceil(rest.length / Math.max(1, lo));
  const per = Math.ceil(rest.length / count);
  let size = max;
  for (let k = 0; k < count; k++) {
    show(per, k);
    if (!fit(box, { max, min, maxColumns })) fit(box, { max, min: floor, maxColumns });
    size = Math.min(size, parseFloat(box.style.fontSize));
  }
  show(per, ((page % count) + count) % count);
  fit(box, { max: size, min: Math.min(size, min), maxColumns });
  return count;
}
