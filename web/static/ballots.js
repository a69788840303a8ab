// Voting controls, one per method. Each is a <form> that edits a draft ballot
// and hands a valid ballot to onSubmit. All are usable with a keyboard and a
// screen reader; the ranking can also be ordered by tapping and by dragging.

import { t } from "./i18n.js";
import { h, replace, liveOptions } from "./ui.js";

export function ballotControl(poll, ctx) {
  const form = h("form.ballot", { "aria-labelledby": `poll-h-${poll.id}`, novalidate: true });
  const body = h("div.ballot-body");
  const submit = h("button", { type: "submit", id: `submit-${poll.id}`, "data-key": `submit-${poll.id}` }, ctx.submitLabel);
  const problem = h("p.hint", { id: `problem-${poll.id}`, "aria-live": "polite" });
  form.append(body, problem, submit);
  const kinds = { yes_no: yesNo, single_choice: singleChoice, approval, dots, score, ranked };
  const draw = kinds[poll.method.kind];
  if (!draw) {
    form.replaceChildren(h("p.muted", poll.method.kind));
    return form;
  }
  const redraw = () => {
    const { nodes, valid, reason } = draw(poll, ctx, redraw);
    replace(body, nodes);
    submit.disabled = !valid;
    problem.textContent = reason || "";
    if (reason) submit.setAttribute("aria-describedby", problem.id);
    else submit.removeAttribute("aria-describedby");
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const ballot = finish(poll, ctx.draft());
    if (ballot) ctx.onSubmit(ballot);
  });
  redraw();
  return form;
}

/** The draft as a ballot the server accepts, or null. */
function finish(poll, draft) {
  if (!draft) return null;
  switch (poll.method.kind) {
    case "yes_no":
      return draft.choice ? { kind: "yes_no", choice: draft.choice } : null;
    case "single_choice":
      return draft.option ? { kind: "single_choice", option: draft.option } : null;
    case "approval":
      return draft.options?.length ? { kind: "approval", options: [...draft.options] } : null;
    case "dots": {
      const allocations = (draft.allocations || []).filter((a) => a.dots > 0);
      return allocations.length ? { kind: "dots", allocations } : null;
    }
    case "score": {
      const scores = (draft.scores || []).filter((s) => s.score !== null && s.score !== undefined);
      return scores.length ? { kind: "score", scores } : null;
    }
    case "ranked":
      return draft.ranking?.length ? { kind: "ranked", ranking: [...draft.ranking] } : null;
  }
  return null;
}

function yesNo(poll, ctx, redraw) {
  const draft = ctx.draft() || { kind: "yes_no" };
  const name = `yn-${poll.id}`;
  const nodes = h(
    "fieldset.choices",
    h("legend.visually-hidden", poll.title),
    ["yes", "no", "abstain"].map((choice) =>
      h(
        "label.choice",
        h("input", {
          type: "radio",
          name,
          value: choice,
          checked: draft.choice === choice,
          "data-key": `${name}-${choice}`,
          onchange: () => {
            ctx.setDraft({ kind: "yes_no", choice });
            redraw();
          },
        }),
        t(`yes_no.${choice}`),
      ),
    ),
  );
  return { nodes, valid: !!draft.choice };
}

function singleChoice(poll, ctx, redraw) {
  const draft = ctx.draft() || { kind: "single_choice" };
  const chosen = liveOptions(poll).some((o) => o.id === draft.option) ? draft.option : null;
  const name = `sc-${poll.id}`;
  const nodes = [
    h("p.hint", { id: `hint-${poll.id}` }, t("single_choice.hint")),
    h(
      "fieldset.choices",
      { "aria-describedby": `hint-${poll.id}` },
      h("legend.visually-hidden", poll.title),
      liveOptions(poll).map((o) =>
        h(
          "label.choice",
          h("input", {
            type: "radio",
            name,
            value: o.id,
            checked: chosen === o.id,
            "data-key": `${name}-${o.id}`,
            onchange: () => {
              ctx.setDraft({ kind: "single_choice", option: o.id });
              redraw();
            },
          }),
          o.label,
        ),
      ),
    ),
  ];
  return { nodes, valid: chosen !== null };
}

function approval(poll, ctx, redraw) {
  const k = poll.method.max_choices;
  const draft = ctx.draft() || { kind: "approval", options: [] };
  const chosen = new Set(draft.options || []);
  for (const id of [...chosen]) if (!liveOptions(poll).some((o) => o.id === id)) chosen.delete(id);
  const full = chosen.size >= k;
  const nodes = [
    h("p.hint", { id: `hint-${poll.id}` }, t("approval.hint", { k })),
    h(
      "fieldset.choices",
      { "aria-describedby": `hint-${poll.id}` },
      h("legend.visually-hidden", poll.title),
      liveOptions(poll).map((o) =>
        h(
          "label.choice",
          h("input", {
            type: "checkbox",
            value: o.id,
            checked: chosen.has(o.id),
            disabled: full && !chosen.has(o.id),
            "data-key": `ap-${poll.id}-${o.id}`,
            onchange: (e) => {
              if (e.target.checked) chosen.add(o.id);
              else chosen.delete(o.id);
              ctx.setDraft({ kind: "approval", options: liveOptions(poll).map((x) => x.id).filter((id) => chosen.has(id)) });
              redraw();
            },
          }),
          o.label,
        ),
      ),
    ),
    h("p", { role: "status" }, t("approval.count", { n: chosen.size, k })),
  ];
  return { nodes, valid: chosen.size >= 1 && chosen.size <= k };
}

function dots(poll, ctx, redraw) {
  const { budget, max_per_option: cap } = poll.method;
  const draft = ctx.draft() || { kind: "dots", allocations: [] };
  const count = new Map((draft.allocations || []).map((a) => [a.option, a.dots]));
  const used = liveOptions(poll).reduce((sum, o) => sum + (count.get(o.id) || 0), 0);
  const left = budget - used;
  const set = (id, n) => {
    count.set(id, n);
    ctx.setDraft({ kind: "dots", allocations: liveOptions(poll).map((o) => ({ option: o.id, dots: count.get(o.id) || 0 })).filter((a) => a.dots > 0) });
    redraw();
  };
  const nodes = [
    h("p.hint", t("dots.hint", { budget, cap })),
    h("p", { role: "status" }, h("strong", t("dots.left", { n: left }))),
    liveOptions(poll).map((o) => {
      const n = count.get(o.id) || 0;
      const outId = `dots-${poll.id}-${o.id}`;
      return h(
        "div.dots-row",
        h("span", { id: `${outId}-label` }, o.label),
        h("button.small.secondary", { type: "button", "aria-label": t("dots.less", { label: o.label }), disabled: n <= 0, "data-key": `${outId}-minus`, onclick: () => set(o.id, n - 1) }, "−"),
        h("output", { id: outId, "aria-label": t("dots.count", { label: o.label }) }, String(n)),
        h("button.small", { type: "button", "aria-label": t("dots.more", { label: o.label }), disabled: n >= cap || left <= 0, "data-key": `${outId}-plus`, onclick: () => set(o.id, n + 1) }, "+"),
      );
    }),
  ];
  return { nodes, valid: used >= 1 && used <= budget };
}

function score(poll, ctx, redraw) {
  const draft = ctx.draft() || { kind: "score", scores: [] };
  const scores = new Map((draft.scores || []).map((s) => [s.option, s.score]));
  const nodes = [
    h("p.hint", t("score.hint")),
    liveOptions(poll).map((o) => {
      const name = `sc-${poll.id}-${o.id}`;
      const current = scores.has(o.id) ? scores.get(o.id) : null;
      return h(
        "fieldset.score-row",
        h("legend", o.label),
        h(
          "div.score-scale",
          [null, 0, 1, 2, 3, 4, 5].map((v) =>
            h(
              "label",
              h("input", {
                type: "radio",
                name,
                value: v === null ? "" : v,
                checked: current === v,
                "aria-label": v === null ? t("score.none_label") : String(v),
                "data-key": `${name}-${v}`,
                onchange: () => {
                  if (v === null) scores.delete(o.id);
                  else scores.set(o.id, v);
                  ctx.setDraft({ kind: "score", scores: liveOptions(poll).filter((x) => scores.has(x.id)).map((x) => ({ option: x.id, score: scores.get(x.id) })) });
                  redraw();
                },
              }),
              h("span", { "aria-hidden": "true" }, v === null ? t("score.none") : String(v)),
            ),
          ),
        ),
      );
    }),
  ];
  return { nodes, valid: scores.size >= 1 };
}

function ranked(poll, ctx, redraw) {
  const max = poll.method.max_ranks ?? null;
  const options = liveOptions(poll);
  const draft = ctx.draft() || { kind: "ranked", ranking: [] };
  const ranking = (draft.ranking || []).filter((id) => options.some((o) => o.id === id));
  const labelOf = (id) => options.find((o) => o.id === id)?.label ?? `#${id}`;
  const limit = max ? Math.min(max, options.length) : options.length;
  const say = (text) => ctx.announce?.(text);
  // The control is redrawn synchronously by commit(), so the new element is there already.
  const focusLater = (key) => {
    const el = document.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (el) el.focus();
  };
  const commit = (next) => {
    ctx.setDraft({ kind: "ranked", ranking: next });
    redraw();
  };
  const move = (id, delta) => {
    const i = ranking.indexOf(id);
    const j = i + delta;
    if (i < 0 || j < 0 || j >= ranking.length) return;
    const next = [...ranking];
    [next[i], next[j]] = [next[j], next[i]];
    commit(next);
    say(t("ranked.moved", { label: labelOf(id), pos: j + 1 }));
  };
  const add = (id) => {
    if (ranking.length >= limit) return;
    const next = [...ranking, id];
    commit(next);
    say(t("ranked.added", { label: labelOf(id), pos: next.length }));
    const rest = options.filter((o) => !next.includes(o.id));
    focusLater(rest.length && next.length < limit ? `rk-add-${poll.id}-${rest[0].id}` : `submit-${poll.id}`);
  };
  const remove = (id) => {
    commit(ranking.filter((x) => x !== id));
    say(t("ranked.removed", { label: labelOf(id) }));
    focusLater(`rk-add-${poll.id}-${id}`);
  };

  const list = h(
    "ol.rank-list",
    { "aria-label": t("ranked.your_ranking"), id: `rank-list-${poll.id}` },
    ranking.map((id, i) => {
      const label = labelOf(id);
      const handle = h(
        "button.small.rank-handle",
        {
          type: "button",
          "aria-label": t("ranked.handle", { label, pos: i + 1, n: ranking.length }),
          "data-key": `rk-h-${poll.id}-${id}`,
          onkeydown: (e) => {
            if (e.key === "ArrowUp" || e.key === "ArrowDown") {
              e.preventDefault();
              move(id, e.key === "ArrowUp" ? -1 : 1);
            }
          },
        },
        h("span", { "aria-hidden": "true" }, "☰"),
      );
      const li = h(
        "li.rank-item",
        { "data-option": id },
        h("span.rank-pos", { "aria-hidden": "true" }, String(i + 1)),
        handle,
        // Long labels are cut at three lines; a tap (or Enter) shows the whole text.
        h(
          "span.rank-label",
          {
            tabindex: "0",
            role: "button",
            "aria-expanded": "false",
            title: label,
            onclick: (e) => toggleLabel(e.currentTarget),
            onkeydown: (e) => {
              if (e.key === "Enter" || e.key === " ") {
                e.preventDefault();
                toggleLabel(e.currentTarget);
              }
            },
          },
          label,
        ),
        h("button.small.secondary", { type: "button", "aria-label": t("ranked.up", { label }), disabled: i === 0, "data-key": `rk-u-${poll.id}-${id}`, onclick: () => move(id, -1) }, h("span", { "aria-hidden": "true" }, "▲")),
        h("button.small.secondary", { type: "button", "aria-label": t("ranked.down", { label }), disabled: i === ranking.length - 1, "data-key": `rk-d-${poll.id}-${id}`, onclick: () => move(id, 1) }, h("span", { "aria-hidden": "true" }, "▼")),
        h("button.small.danger", { type: "button", "aria-label": t("ranked.remove", { label }), "data-key": `rk-x-${poll.id}-${id}`, onclick: () => remove(id) }, h("span", { "aria-hidden": "true" }, "✕")),
      );
      enableDrag(handle, li, (order) => {
        commit(order);
        say(t("ranked.moved", { label, pos: order.indexOf(id) + 1 }));
      });
      return li;
    }),
  );
  const unranked = options.filter((o) => !ranking.includes(o.id));
  const nodes = [
    h("p.hint", { id: `rank-hint-${poll.id}` }, max ? t("ranked.hint_top", { k: limit }) : t("ranked.hint_all"), " ", t("ranked.how")),
    h("h4", t("ranked.your_ranking")),
    ranking.length ? list : h("p.muted", t("ranked.empty")),
    unranked.length ? h("h4", t("ranked.unranked")) : null,
    unranked.length
      ? h(
          "ul.unranked-list",
          { "aria-label": t("ranked.unranked") },
          unranked.map((o) =>
            h(
              "li",
              h(
                "button",
                { type: "button", "aria-label": t("ranked.add", { label: o.label }), disabled: ranking.length >= limit, "data-key": `rk-add-${poll.id}-${o.id}`, "data-option": o.id, onclick: () => add(o.id) },
                h("span", { "aria-hidden": "true" }, "＋ "),
                o.label,
              ),
            ),
          ),
        )
      : null,
  ];
  const valid = max ? ranking.length >= 1 && ranking.length <= limit : ranking.length === options.length;
  return { nodes, valid, reason: valid || max ? "" : t("ranked.need_all", { n: options.length }) };
}

function toggleLabel(el) {
  el.setAttribute("aria-expanded", String(el.getAttribute("aria-expanded") !== "true"));
}

/**
 * Drag a ranked item by its handle (mouse, pen or touch); the new order goes to done(order).
 *
 * The moves are followed on the window, not with pointer capture on the
 * handle: moving the item in the list takes the handle out of the document
 * for a moment, which releases a capture, and the drag would stop half-way
 * with the item left greyed. The handle has `touch-action: none` (app.css)
 * so that a touch drag is not taken for a scroll.
 */
function enableDrag(handle, li, done) {
  handle.addEventListener("pointerdown", (e) => {
    if (e.pointerType === "mouse" && e.button !== 0) return;
    e.preventDefault();
    const list = li.parentElement;
    const startY = e.clientY;
    const pointer = e.pointerId;
    let dragging = false;
    const onMove = (ev) => {
      if (ev.pointerId !== pointer) return;
      if (!dragging && Math.abs(ev.clientY - startY) < 6) return;
      ev.preventDefault();
      dragging = true;
      li.classList.add("dragging");
      for (const other of list.children) {
        if (other === li) continue;
        const r = other.getBoundingClientRect();
        if (ev.clientY > r.top && ev.clientY < r.bottom) {
          if (ev.clientY < r.top + r.height / 2) list.insertBefore(li, other);
          else list.insertBefore(li, other.nextSibling);
          break;
        }
      }
    };
    const onUp = (ev) => {
      if (ev.pointerId !== pointer) return;
      window.removeEventListener("pointermove", onMove);
      window.removeEventListener("pointerup", onUp);
      window.removeEventListener("pointercancel", onUp);
      li.classList.remove("dragging");
      if (dragging) done([...list.children].map((c) => Number(c.dataset.option)));
    };
    window.addEventListener("pointermove", onMove, { passive: false });
    window.addEventListener("pointerup", onUp);
    window.addEventListener("pointercancel", onUp);
  });
}
