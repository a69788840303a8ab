// The console's "On the projector" control: what every display shows is the
// moderator's call (`show_on_display`, SPEC §7.3 Display). One button per
// screen, a poll picker for a live poll or a final result, and "next round"
// to step an instant-runoff result through its rounds.

import { t } from "./i18n.js";
import { h, replace } from "./ui.js";

function rounds(poll) {
  return poll?.outcome?.tally?.ranked?.instant_runoff?.rounds?.length || 0;
}

function isRunoff(poll) {
  return poll?.method?.kind === "ranked" && poll.method.tally === "instant_runoff";
}

/** What the displays show, in words. */
function describe(screen, state) {
  const kind = screen?.kind || "auto";
  const what = t(`projector.kind.${kind}`);
  if (kind !== "poll" && kind !== "result") return what;
  const poll = state.polls.get(screen.poll);
  let text = t("projector.showing_poll", { what, poll: poll?.title ?? `#${screen.poll}` });
  if (kind === "result" && screen.step != null) text += ` (${t("projector.showing_round", { n: screen.step, of: rounds(poll) })})`;
  return text;
}

let picked = null;

/**
 * Draw the control into `container`. `send(type, fields, what)` sends a
 * command and names it in the console's log.
 */
export function renderProjectorControl(container, state, send) {
  const screen = state.screen || { kind: "auto" };
  const closed = state.forum?.status === "closed";
  const polls = [...state.polls.values()].filter((p) => p.status !== "draft").sort((a, b) => b.id - a.id);
  if (!polls.some((p) => p.id === picked)) picked = (polls.find((p) => p.status === "open") || polls[0])?.id ?? null;
  const show = (next) => send("show_on_display", { screen: next }, `${t("projector.control")}: ${describe(next, state)}`);
  const button = (kind, label = t(`projector.kind.${kind}`)) =>
    h(
      "button.small.secondary",
      { type: "button", "aria-pressed": String(screen.kind === kind), disabled: closed, "data-screen": kind, onclick: () => show({ kind }) },
      label,
    );
  const poll = state.polls.get(picked);
  const select = h(
    "select#projector-poll",
    { disabled: closed || !polls.length, onchange: (e) => ((picked = Number(e.target.value)), renderProjectorControl(container, state, send)) },
    polls.map((p) => h("option", { value: p.id, selected: p.id === picked }, `${p.title} (${p.status === "open" ? t("poll.open") : t("status.closed")})`)),
  );
  const shownPoll = screen.kind === "result" ? state.polls.get(screen.poll) : null;
  const steps = shownPoll && isRunoff(shownPoll) ? rounds(shownPoll) : 0;
  const step = screen.step ?? steps;
  replace(
    container,
    h("p.projector-now", { "data-kind": screen.kind }, closed ? t("projector.end_title") : t("projector.now_showing", { what: describe(screen, state) })),
    h("div.row", ["auto", "ideas", "speakers", "join", "blank"].map((kind) => button(kind))),
    h(
      "div.row",
      h("label", { for: "projector-poll" }, t("projector.pick_poll")),
      select,
      h("button.small.secondary", { type: "button", "data-screen": "poll", disabled: closed || poll?.status !== "open", onclick: () => show({ kind: "poll", poll: picked }) }, t("projector.kind.poll")),
      h(
        "button.small.secondary",
        {
          type: "button",
          "data-screen": "result",
          disabled: closed || poll?.status !== "closed",
          // An instant-runoff result starts at its first round; "next round" reveals the others.
          onclick: () => show(isRunoff(poll) && rounds(poll) > 1 ? { kind: "result", poll: picked, step: 1 } : { kind: "result", poll: picked }),
        },
        t("projector.kind.result"),
      ),
    ),
    steps
      ? h(
          "div.row",
          h("button.small", { type: "button", id: "projector-next-round", disabled: closed || step >= steps, onclick: () => show({ kind: "result", poll: shownPoll.id, step: step + 1 }) }, t("projector.next_round")),
          h("button.small.secondary", { type: "button", disabled: closed || screen.step == null, onclick: () => show({ kind: "result", poll: shownPoll.id }) }, t("projector.all_rounds")),
        )
      : null,
  );
}
