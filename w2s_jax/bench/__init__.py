"""`w2s bench`: the engines timed side by side in one process (`studies`), and a cold start
of a whole sweep against the per-cell loop, each in a fresh process (`cold`)."""
