#!/usr/bin/env python3
"""An independent check of a Madang public record, written from
protocol/RECORD.md alone (standard library only): the chain over the bytes,
the numbering, each close's stamp and fingerprint, receipts in order, ballots
within the devices joined, follow-through after the close, and a recount of
the counts every method publishes (yes/no with its rule, approval, dots,
single choice, score, and for ranked polls Borda points, instant-runoff
rounds and the Schulze pairwise matrix). Pairwise (Bradley-Terry) outcomes
are checked for their win counts only.

Usage: verify.py RECORD.jsonl   (exit 0 when every check holds)
"""

import hashlib
import json
import sys

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def fingerprint(head_hex):
    bits = int(head_hex[:15], 16)  # the first 60 bits
    s = "".join(CROCKFORD[(bits >> (55 - 5 * i)) & 31] for i in range(12))
    return f"{s[:4]}-{s[4:8]}-{s[8:]}"


def fail(message):
    print(f"FAIL {message}")
    sys.exit(1)


def weighted_ballots(ballots, hall):
    """Device ballots and the last hand count as (ballot, weight) pairs (RECORD.md §5)."""
    out = [(b["ballot"], b["weight"]) for b in ballots if "ballot" in b]
    if not hall:
        return out
    kind = hall["kind"]
    if kind == "yes_no":
        out += [({"kind": "yes_no", "choice": c}, hall[c]) for c in ("yes", "no", "abstain") if hall[c]]
    elif kind == "approval":
        out += [({"kind": "approval", "options": [c["option"]]}, c["count"]) for c in hall["counts"] if c["count"]]
    elif kind == "dots":
        out += [({"kind": "dots", "allocations": [{"option": c["option"], "dots": 1}]}, c["count"]) for c in hall["counts"] if c["count"]]
    elif kind == "single_choice":
        out += [({"kind": "single_choice", "option": c["option"]}, c["count"]) for c in hall["counts"] if c["count"]]
    elif kind == "score":
        for c in hall["counts"]:
            for s, n in enumerate(c["distribution"]):
                if n:
                    out.append(({"kind": "score", "scores": [{"option": c["option"], "score": s}]}, n))
    elif kind == "ranked":
        out += [({"kind": "ranked", "ranking": p["ranking"]}, p["count"]) for p in hall["ballots"] if p["count"]]
    return out


def people_of(hall):
    if not hall:
        return 0
    kind = hall["kind"]
    if kind == "yes_no":
        return hall["yes"] + hall["no"] + hall["abstain"]
    if kind == "ranked":
        return sum(p["count"] for p in hall["ballots"])
    if kind == "single_choice":
        return sum(c["count"] for c in hall["counts"])
    return hall["people"]


def counts_of(result_counts):
    return {c["option"]: c["count"] for c in result_counts}


def recount(opened, ballots_line, outcome):
    method = opened["method"]
    kind = method["kind"]
    canon = {o["id"]: o["id"] for o in opened["options"]}
    for m in ballots_line["merged_options"]:
        canon[m["option"]] = m["counts_for"]
    counted = sorted({canon[o] for o in canon})
    hall = ballots_line["hall_counts"][-1]["counts"] if ballots_line["hall_counts"] else None
    tally = outcome["tally"]
    result = tally["result"]
    if kind == "pairwise":
        wins = {}
        for b in ballots_line["ballots"]:
            latest = {}
            for c in b["comparisons"]:
                w, l = canon[c["winner"]], canon[c["loser"]]
                if w != l:
                    latest[tuple(sorted((w, l)))] = None if c.get("skip") else (w, l)
            for pair in latest.values():
                if pair:
                    wins[pair] = wins.get(pair, 0) + 1
        index = {o: i for i, o in enumerate(counted)}
        for (w, l), n in wins.items():
            if result["wins"][index[w]][index[l]] != n:
                return f"wins[{w}][{l}] is {result['wins'][index[w]][index[l]]}, recount gives {n}"
        return None
    all_ballots = weighted_ballots(ballots_line["ballots"], hall)
    devices = sum(1 for b in ballots_line["ballots"] if "ballot" in b)
    if tally["ballots"] != devices + people_of(hall):
        return f"tally.ballots is {tally['ballots']}, recount gives {devices + people_of(hall)}"
    if kind == "yes_no":
        c = {"yes": 0, "no": 0, "abstain": 0}
        for b, w in all_ballots:
            c[b["choice"]] += w
        y, n, a = c["yes"], c["no"], c["abstain"]
        rule = method["rule"]
        passed = {"simple": y > n, "absolute": 2 * y > y + n + a, "two_thirds": y >= 1 and 3 * y >= 2 * (y + n)}[rule]
        got = (result["yes"], result["no"], result["abstain"], result["passed"], result["tie"])
        if got != (y, n, a, passed, y == n):
            return f"yes/no {got}, recount gives {(y, n, a, passed, y == n)}"
        return None
    if kind in ("approval", "dots", "single_choice"):
        c = {o: 0 for o in counted}
        for b, w in all_ballots:
            if kind == "approval":
                for o in {canon[x] for x in b["options"]}:
                    c[o] += w
            elif kind == "dots":
                for a in b["allocations"]:
                    c[canon[a["option"]]] += a["dots"] * w
            else:
                c[canon[b["option"]]] += w
        got = counts_of(result["counts"])
        return None if got == c else f"counts {got}, recount gives {c}"
    if kind == "score":
        sums = {o: [0, 0] for o in counted}
        for b, w in all_ballots:
            for s in b["scores"]:
                o = canon[s["option"]]
                sums[o][0] += w
                sums[o][1] += s["score"] * w
        got = {s["option"]: [s["ballots"], s["sum"]] for s in result["stats"]}
        return None if got == sums else f"score (ballots, sum) {got}, recount gives {sums}"
    if kind == "ranked":
        n = len(counted)
        rankings = []
        for b, w in all_ballots:
            seen = []
            for x in b["ranking"]:
                o = canon[x]
                if o not in seen:
                    seen.append(o)
            rankings.append((seen, w))
        borda = {o: 0 for o in counted}
        for seen, w in rankings:
            for k, o in enumerate(seen):
                borda[o] += (n - 1 - k) * w
        if counts_of(result["borda"]) != borda:
            return f"Borda {counts_of(result['borda'])}, recount gives {borda}"
        detail = tally.get("ranked")
        if not detail or not rankings:
            return None
        order = detail["options"]
        idx = {o: i for i, o in enumerate(order)}
        pairwise = [[0] * len(order) for _ in order]
        for seen, w in rankings:
            for i, a in enumerate(seen):
                for b in seen[i + 1:]:
                    pairwise[idx[a]][idx[b]] += w
                for b in order:
                    if b not in seen:
                        pairwise[idx[a]][idx[b]] += w
        if pairwise != detail["schulze"]["pairwise"]:
            return f"Schulze pairwise {detail['schulze']['pairwise']}, recount gives {pairwise}"
        continuing = list(order)
        for k, rnd in enumerate(detail["instant_runoff"]["rounds"]):
            c = {o: 0 for o in continuing}
            for seen, w in rankings:
                top = next((o for o in seen if o in c), None)
                if top is not None:
                    c[top] += w
            if counts_of(rnd["counts"]) != c:
                return f"instant-runoff round {k + 1}: {counts_of(rnd['counts'])}, recount gives {c}"
            fewest = min(c.values())
            out = [o for o in continuing if c[o] == fewest]
            if len(out) < len(continuing) and sorted(rnd["eliminated"]) != sorted(out):
                return f"instant-runoff round {k + 1} eliminates {rnd['eliminated']}, recount {out}"
            continuing = [o for o in continuing if o not in rnd["eliminated"]]
        return None
    return None


def main(path):
    data = open(path, "rb").read()
    if not data.endswith(b"\n"):
        fail("the record does not end with a newline (cut?)")
    prev = "0" * 64
    lines = []
    for k, raw in enumerate(data[:-1].split(b"\n")):
        line = json.loads(raw)
        if line.get("n") != k + 1:
            fail(f"line {k + 1} says it is line {line.get('n')}")
        if line.get("prev") != prev:
            fail(f"line {k + 1} ({line.get('type')}) does not chain to the line before")
        lines.append((line, prev))
        prev = hashlib.sha256(raw).hexdigest()
    if lines[0][0].get("format") != "madang.record.v1":
        fail("line 1 is not a madang.record.v1 forum line")
    print(f"ok   chain: {len(lines)} lines, head {prev}, fingerprint {fingerprint(prev)}")
    opened, decided, closed_at, planned = {}, set(), None, set()
    for i, (line, before) in enumerate(lines):
        t = line["type"]
        if closed_at is not None and t not in ("response_recorded", "action_planned", "action_updated"):
            fail(f"line {i + 1} ({t}) comes after the forum closed")
        if t == "forum_closed":
            closed_at = i + 1
        elif t == "poll_opened":
            opened[line["poll"]] = line
        elif t == "poll_outcome":
            ballots, stamp_head = lines[i - 1][0], before
            if ballots["type"] != "poll_ballots" or ballots["poll"] != line["poll"]:
                fail(f"line {i + 1}: an outcome without its ballots line before it")
            stamp = line["outcome"]["record"]
            if stamp["head"] != stamp_head or stamp["fingerprint"] != fingerprint(stamp_head):
                fail(f"poll {line['poll']}: the stamp is not the hash of its ballots line")
            receipts = [b["receipt"] for b in ballots["ballots"]]
            if receipts != sorted(receipts) or len(set(receipts)) != len(receipts):
                fail(f"poll {line['poll']}: ballots are not in receipt order, or a receipt repeats")
            for channel in ("remote", "hall"):
                cast = sum(1 for b in ballots["ballots"] if b["channel"] == channel)
                if cast > ballots["participants"][channel]:
                    fail(f"poll {line['poll']}: {cast} {channel} ballots from {ballots['participants'][channel]} devices")
            problem = recount(opened[line["poll"]], ballots, line["outcome"])
            if problem:
                fail(f"poll {line['poll']}: {problem}")
            decided.add(line["poll"])
            print(f"ok   poll {line['poll']} ({opened[line['poll']]['method']['kind']}): recount agrees, fingerprint {stamp['fingerprint']}")
        elif t in ("response_recorded", "action_planned"):
            if line["poll"] not in decided:
                fail(f"line {i + 1}: follow-through for poll {line['poll']}, which has no outcome")
            if t == "action_planned":
                planned.add(line["action"])
        elif t == "action_updated" and line["action"] not in planned:
            fail(f"line {i + 1}: an update of action {line['action']}, never planned")
    print("ok   every check holds")


if __name__ == "__main__":
    main(sys.argv[1])
