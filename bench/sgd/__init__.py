"""The SGD multi-call evaluation: callers assembled from Schema-Guided Dialogue bookings, asked about earlier calls.

``data`` reads the dialogues and their ground truth, ``vocab`` holds every wording, ``build`` makes
the callers, calls and probes, ``run`` replays them through the memory layer and the baselines,
``score`` scores the hits. The command is ``python bench/eval_sgd.py``; the method is in docs/sgd.md.
"""
