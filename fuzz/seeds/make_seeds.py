#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets (fuzz/seeds/<target>/) from
protocol/examples/frames: every client frame for `client_frame`, and for
`domain_sequence` forums driven through every command, one line each:
actor byte (m, d, j or a participant digit), clock byte, frame."""
import json
import pathlib

root = pathlib.Path(__file__).resolve().parents[2]
frames = sorted((root / "protocol/examples/frames").glob("client.*.json"))
seeds = pathlib.Path(__file__).resolve().parent

out = seeds / "client_frame"
out.mkdir(exist_ok=True)
for f in frames:
    (out / f.stem).write_bytes(f.read_bytes())


def line(actor, frame, tick="\x01"):
    if isinstance(frame, dict):
        frame = json.dumps(frame, separators=(",", ":"))
    return f"{actor}{tick}{frame}"


def cmd(kind, n, **fields):
    return {"type": kind, "id": f"r{n}", **fields}


script = [line("j", "Ana"), line("j", "Ben"), line("j", "")]
n = 0
def m(kind, **f):
    global n; n += 1; script.append(line("m", cmd(kind, n, **f)))
def p(who, kind, **f):
    global n; n += 1; script.append(line(str(who), cmd(kind, n, **f)))

for t in ["Parks", "Roads", "Budget", "Next"]:
    m("add_item", title=t, timebox_secs=300)
m("start_forum")
m("activate_item", item=1)
for who, text in [(1, "Trees"), (2, "Benches"), (3, "Pond"), (1, "Lights"), (2, "Trees!")]:
    p(who, "submit_idea", text=text)
m("merge_idea", idea=5, into=1)
m("hide_idea", idea=4)
methods = [
    ({"kind": "ranked", "tally": "schulze"}, {"from": "ideas"}),
    ({"kind": "yes_no", "rule": "two_thirds"}, {"from": "none"}),
    ({"kind": "approval", "max_choices": 2}, {"from": "ideas"}),
    ({"kind": "dots", "budget": 5, "max_per_option": 3}, {"from": "fixed", "labels": ["A", "B", "C"]}),
    ({"kind": "score"}, {"from": "ideas"}),
    ({"kind": "pairwise"}, {"from": "ideas"}),
    ({"kind": "ranked", "tally": "instant_runoff", "max_ranks": 2}, {"from": "ideas"}),
]
for method, options in methods:
    m("create_poll", item=1, title="Q", method=method, options=options, results="hidden" if len(method) % 2 else "live")
for poll in range(1, len(methods) + 1):
    m("open_poll", poll=poll)
for who in (1, 2, 3):
    p(who, "cast_ballot", poll=1, ballot={"kind": "ranked", "ranking": [3, 1, 2][who - 1:] + [3, 1, 2][:who - 1]})
    p(who, "cast_ballot", poll=2, ballot={"kind": "yes_no", "choice": ["yes", "no", "abstain"][who - 1]})
    p(who, "cast_ballot", poll=3, ballot={"kind": "approval", "options": [1, who + 1]})
    p(who, "cast_ballot", poll=4, ballot={"kind": "dots", "allocations": [{"option": 1, "dots": 2}, {"option": 2, "dots": who}]})
    p(who, "cast_ballot", poll=5, ballot={"kind": "score", "scores": [{"option": 1, "score": who}, {"option": 3, "score": 5}]})
    p(who, "next_pair", poll=6)
    p(who, "cast_comparison", poll=6, winner=1, loser=3)
    p(who, "cast_ballot", poll=7, ballot={"kind": "ranked", "ranking": [2, 1]})
m("enter_hall_count", poll=1, counts={"kind": "ranked", "ballots": [{"ranking": [3, 1, 2], "count": 12}]})
m("enter_hall_count", poll=2, counts={"kind": "yes_no", "yes": 31, "no": 4, "abstain": 2})
m("enter_hall_count", poll=3, counts={"kind": "approval", "people": 40, "counts": [{"option": 1, "count": 22}]})
m("set_hall_headcount", count=120)
p(1, "raise_hand"); p(2, "raise_hand")
m("add_speaker", name="Mrs Kim")
m("set_queue_policy", policy="alternate")
m("set_speaking_limit", secs=60)
m("call_next"); m("end_speech"); m("skip_speaker")
m("move_speaker", speaker=2, position=0)
p(1, "lower_hand")
p(3, "signal", color="yellow")
m("pause_timer", item=1); m("extend_timer", item=1, secs=60)
m("merge_idea", idea=2, into=3)
for poll in range(1, len(methods) + 1):
    m("close_poll", poll=poll)
    m("reveal_results", poll=poll)
m("complete_item", item=1)
m("move_item", item=4, position=0)
m("edit_item", item=4, title="Next steps")
m("remove_item", item=3)
m("set_premoderation", enabled=True)
m("close_forum")

# ballot: method byte, its parameters, option count, merge bytes, then ballots
# (kind, length, entries, weight); see `madang::fuzzing::ballot`.
out = seeds / "ballot"
out.mkdir(exist_ok=True)
options = [5, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5]  # five small ids
no_merges = [1] * 5
ballots = {
    "yes_no": [0, 2] + options + no_merges + [3, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0],
    "approval": [1, 0, 2] + options + no_merges + [2, 2, 1, 0, 1, 0, 2, 3, 1, 4, 0],
    "dots": [2, 0, 5, 0, 3] + options + no_merges + [2, 2, 2, 0, 0, 3, 1, 0, 2, 0, 2, 1, 5, 0],
    "score": [3] + options + no_merges + [1, 3, 3, 0, 0, 5, 0, 1, 0, 0, 2, 0, 3, 0],
    "ranked_merged": [4, 1, 0, 3, 2] + options + [1, 1, 0, 2, 1] + [2, 4, 4, 2, 0, 1, 3, 0, 2, 4, 4, 0, 1, 2, 3, 242, 12],
    "pairwise": [5] + options + no_merges + [1, 2, 4, 0, 1, 0],
}
for name, data in ballots.items():
    (out / name).write_bytes(bytes(data))

out = seeds / "domain_sequence"
out.mkdir(exist_ok=True)
(out / "every_command").write_text("\n".join(script))
examples = [line("j", "Ana"), line("j", "Ben")]
for f in frames:
    text = " ".join(f.read_text().split())
    examples.append(line("m" if '"m-' in text else "1", text))
(out / "examples_in_order").write_text("\n".join(examples))
