"""The peer of benches/tally.rs: the same ranked profile counted by pref_voting.

Reads {"options": n, "rankings": [[0-based option indices], ...]} on stdin,
prints the time (seconds) of each step and each method's winners as JSON.
"""
import json
import sys
import time

from pref_voting.iterative_methods import instant_runoff
from pref_voting.margin_based_methods import beat_path
from pref_voting.profiles import Profile
from pref_voting.scoring_methods import borda

data = json.load(sys.stdin)
timings = {}
start = time.perf_counter()
profile = Profile(data["rankings"])
timings["profile"] = time.perf_counter() - start
winners = {}
for name, method in [
    ("borda", lambda p: borda(p)),
    ("instant_runoff", lambda p: instant_runoff(p)),
    ("schulze", lambda p: beat_path(p, algorithm="floyd_warshall")),
]:
    start = time.perf_counter()
    winners[name] = sorted(int(w) + 1 for w in method(profile))
    timings[name] = time.perf_counter() - start
print(json.dumps({"timings": timings, "winners": winners}))
