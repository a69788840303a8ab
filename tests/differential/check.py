#!/usr/bin/env python3
"""The pref_voting side of tests/integration/differential.rs.

Reads profiles as JSON lines on stdin:

    {"options": [3, 1, 7], "ballots": [{"ranking": [1, 7], "weight": 4}, ...]}

and writes, for each, one JSON line with what pref_voting computes for it.
Every list indexed by option is in the profile's own option order (the order
of "options", which Madang keeps); every set of options is sorted ascending.

Which pref_voting function stands for which Madang function (see also the
module doc of tests/integration/differential.rs):

* pairwise       ProfileWithTies.support(a, b) after use_extended_strict_preference()
                 (a listed option is above every unlisted one; unlisted ones tie).
* first_choices  ProfileWithTies.plurality_scores() (an empty ballot counts for no one).
* borda          scoring_methods.domination_borda_scores: the number of options
                 ranked strictly below (extended strict preference) = n-1-k for
                 position k, 0 when unlisted; winners by
                 borda_for_profile_with_ties(prof, borda_scores=domination_borda_scores);
                 on profiles of complete ballots also Profile.borda_scores().
* instant_runoff iterative_methods.instant_runoff on the ProfileWithTies (its
                 "basic" algorithm with score_method="approval": a truncated
                 linear ballot counts for its highest continuing option; all
                 options tied for fewest go together; stops at one option or
                 when all continuing options tie) and instant_runoff_with_explanation
                 (its elimination list, which ends with the final tie when
                 there is one); round counts from ProfileWithTies.tops_scores.
                 Also instant_runoff_for_truncated_linear_orders (majority of
                 the non-exhausted ballots, same simultaneous elimination) when
                 some ballot is not empty: with only empty ballots it returns []
                 where Madang ties all options. On profiles of complete ballots
                 also instant_runoff on a Profile (basic with majority exit,
                 recursive) and its explanation with exit_on_majority=False.
* schulze        margin_based_methods.beat_path (Schulze's beat path with the
                 margin as strength, edges only where the margin is positive):
                 winners by the floyd_warshall algorithm, and for n <= 5 also by
                 the basic algorithm (all simple paths); the defeat relation by
                 beat_path_defeat; the strongest-path strengths from
                 has_strong_path (the largest k with a path of margins >= k,
                 0 when there is none); tiers by peeling the undefeated options
                 off that defeat relation.
* condorcet      ProfileWithTies.condorcet_winner().
"""

import json
import sys
import traceback

import numpy as np
import pref_voting
from pref_voting.iterative_methods import (
    instant_runoff,
    instant_runoff_for_truncated_linear_orders,
    instant_runoff_with_explanation,
)
from pref_voting.margin_based_methods import beat_path, beat_path_defeat, has_strong_path
from pref_voting.profiles import Profile
from pref_voting.profiles_with_ties import ProfileWithTies
from pref_voting.scoring_methods import borda_for_profile_with_ties, domination_borda_scores


def ints(xs):
    return sorted(int(x) for x in xs)


def peel(options, defeats):
    """Tiers, best first: each tier is the options no remaining option defeats."""
    remaining = list(range(len(options)))
    tiers = []
    while remaining:
        tier = [i for i in remaining if not any(defeats[j][i] for j in remaining)]
        if not tier:  # cannot happen for a strict partial order; keep going anyway
            tier = list(remaining)
        remaining = [i for i in remaining if i not in tier]
        tiers.append(ints(options[i] for i in tier))
    return tiers


def strongest_paths(options, prof):
    """strongest[i][j] = the largest k such that pref_voting's has_strong_path
    finds a path i -> j over majority edges each of margin >= k (0 when none)."""
    n = len(options)
    idx = {c: i for i, c in enumerate(prof.candidates)}
    margins, _ = prof.strength_matrix()  # margin matrix in prof.candidates order
    margins = np.array(margins)
    levels = sorted({int(m) for m in margins.flatten() if m > 0})
    out = [[0] * n for _ in range(n)]
    for a, ca in enumerate(options):
        for b, cb in enumerate(options):
            if a == b:
                continue
            lo, hi = 0, len(levels) - 1  # has_strong_path is monotone in k
            best = 0
            while lo <= hi:
                mid = (lo + hi) // 2
                if has_strong_path(margins, idx[ca], idx[cb], levels[mid]):
                    best = levels[mid]
                    lo = mid + 1
                else:
                    hi = mid - 1
            out[a][b] = best
    return out


def evaluate(p):
    options = [int(o) for o in p["options"]]
    n = len(options)
    ballots = p["ballots"]
    rankings = [{o: k + 1 for k, o in enumerate(b["ranking"])} for b in ballots]
    weights = [int(b["weight"]) for b in ballots]

    prof = ProfileWithTies(rankings, rcounts=weights, candidates=options)
    prof.use_extended_strict_preference()
    res = {}

    res["pairwise"] = [[int(prof.support(a, b)) if a != b else 0 for b in options] for a in options]
    pl = prof.plurality_scores()
    res["first_choices"] = [int(pl[o]) for o in options]

    bs = domination_borda_scores(prof)
    res["borda"] = [int(bs[o]) for o in options]
    res["borda_winners"] = ints(borda_for_profile_with_ties(prof, borda_scores=domination_borda_scores))
    res["borda_tiers"] = [ints(o for o in options if bs[o] == s) for s in sorted(set(bs.values()), reverse=True)]

    res["irv_winners"] = ints(instant_runoff(prof))
    ws, elims = instant_runoff_with_explanation(prof)
    res["irv_explained_winners"] = ints(ws)
    res["irv_elims"] = [ints(e) for e in elims]
    # Per-round counts: tops scores of the continuing options, replaying the eliminations.
    rounds = []
    continuing = list(options)
    for k in range(len(elims) + 1):
        scores = prof.tops_scores(curr_cands=sorted(continuing))
        rounds.append([int(scores[o]) for o in continuing])
        if k < len(elims):
            if len(elims[k]) == len(continuing):
                break  # the final tie, nothing eliminated
            continuing = [o for o in continuing if o not in elims[k]]
    res["irv_round_counts"] = rounds
    if any(len(b["ranking"]) > 0 for b in ballots):
        res["irv_truncated_winners"] = ints(instant_runoff_for_truncated_linear_orders(prof))
    else:
        res["irv_truncated_winners"] = None

    if all(len(b["ranking"]) == n for b in ballots):
        index = {c: i for i, c in enumerate(sorted(options))}
        lin = Profile([[index[o] for o in b["ranking"]] for b in ballots], rcounts=weights)
        back = sorted(options)
        res["irv_linear_winners"] = ints(back[c] for c in instant_runoff(lin))
        res["irv_linear_recursive_winners"] = ints(back[c] for c in instant_runoff(lin, algorithm="recursive"))
        _, lelims = instant_runoff_with_explanation(lin, exit_on_majority=False)
        res["irv_linear_elims"] = [ints(back[c] for c in e) for e in lelims]
        lb = lin.borda_scores()
        res["borda_linear"] = [int(lb[index[o]]) for o in options]
        res["pairwise_linear"] = [[int(lin.support(index[a], index[b])) if a != b else 0 for b in options] for a in options]
    else:
        for key in ("irv_linear_winners", "irv_linear_recursive_winners", "irv_linear_elims", "borda_linear", "pairwise_linear"):
            res[key] = None

    res["schulze_winners"] = ints(beat_path(prof, algorithm="floyd_warshall"))
    res["schulze_winners_basic"] = ints(beat_path(prof, algorithm="basic")) if n <= 5 else None
    g = beat_path_defeat(prof)
    pos = {o: i for i, o in enumerate(options)}
    defeats = [[False] * n for _ in range(n)]
    for a, b in g.edges():
        defeats[pos[a]][pos[b]] = True
    res["schulze_defeats"] = defeats
    res["schulze_tiers"] = peel(options, defeats)
    res["schulze_strongest"] = strongest_paths(options, prof)

    cw = prof.condorcet_winner()
    res["condorcet_winner"] = None if cw is None else int(cw)
    return res


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--version":
        print(pref_voting.__version__ if hasattr(pref_voting, "__version__") else "unknown")
        return
    out = sys.stdout
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            res = evaluate(json.loads(line))
        except Exception:  # report, keep the line count in step
            res = {"error": traceback.format_exc()}
        out.write(json.dumps(res, separators=(",", ":")))
        out.write("\n")
    out.flush()


if __name__ == "__main__":
    main()
